// nidim/kernels/cuda/conv.cu: 2-D convolution (cross-correlation, as in PyTorch) forward and both
// backward passes through cuDNN 9's convolution API; the CUDA twin of kernels/cpu/conv.cpp.
//
// Per call: RAII descriptors for x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW] (NCHW,
// float or double) and the convolution (padding, stride, no dilation, no groups). The algorithm of
// each pass is chosen once per shape and cached (key: device, dtype, shape, pass, TF32 flag):
// cudnnFind*AlgorithmEx times the candidates on the call's own buffers with a workspace of at
// most conv_workspace_limit_cuda() bytes (256 MiB by default), and the fastest deterministic one
// that fits is kept (the fastest of any kind when none is deterministic); with NIDIM_CUDNN_FIND=0
// cuDNN's heuristics choose instead (no timing runs: quicker first step). The timing can choose
// differently in another process, with other rounding: conv_algorithms_cuda() writes the choices
// out and set_conv_algorithms_cuda() adopts them (train_dim's checkpoints). Workspaces come from
// the caching allocator. Math: CUDNN_FMA_MATH for float32 unless TF32 is on (then
// CUDNN_TENSOR_OP_MATH): cuDNN would otherwise use TF32 tensor cores by default on Hopper.
// Bias: cudnnAddTensor forward; backward, db[o] = sum over n and the pixels of dy[n, o], by our
// own two kernels (conv_bias_grad_*: cudnnConvolutionBackwardBias took 4 ms of a 27 ms MNIST step
// at batch 1024 on an H200, ncu): grid (P, O), block (p, o) adds the pixels of images
// [p N / P, (p + 1) N / P) of channel o in double (rows of OH*OW contiguous values, read
// coalesced), then one thread per channel adds its P partial sums in order. No atomics: the sum
// depends only on the shape.
// The kernels are cuDNN's (Nsight names them after cuDNN's implementations); the NVTX range
// "conv2d" (dispatch_cuda) marks them.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/library.h"

namespace nidim {

using namespace gpu;

namespace {

enum class ConvPass { forward, backward_data, backward_filter };

template <class T>
constexpr cudnnDataType_t cudnn_type() {
  return sizeof(T) == 4 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

int as_int(int64_t v, const char* what) {
  NIDIM_CHECK(v >= 0 && v <= INT_MAX, "conv2d: {} = {} is beyond cuDNN's 32-bit sizes", what, v);
  return static_cast<int>(v);
}

// The descriptors of one convolution.
template <class T>
struct ConvDescriptors {
  TensorDescriptor x, y, bias;
  FilterDescriptor w;
  ConvolutionDescriptor conv;

  explicit ConvDescriptors(const Conv2dShape& s) {
    const cudnnDataType_t t = cudnn_type<T>();
    NIDIM_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NCHW, t, as_int(s.N, "N"),
                                   as_int(s.C, "C"), as_int(s.H, "H"), as_int(s.W, "W")),
        "conv2d (input descriptor)");
    NIDIM_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y.get(), CUDNN_TENSOR_NCHW, t, as_int(s.N, "N"),
                                   as_int(s.O, "O"), as_int(s.OH, "OH"), as_int(s.OW, "OW")),
        "conv2d (output descriptor)");
    NIDIM_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(bias.get(), CUDNN_TENSOR_NCHW, t, 1, as_int(s.O, "O"), 1, 1),
        "conv2d (bias descriptor)");
    NIDIM_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(w.get(), t, CUDNN_TENSOR_NCHW, as_int(s.O, "O"),
                                   as_int(s.C, "C"), as_int(s.KH, "KH"), as_int(s.KW, "KW")),
        "conv2d (weight descriptor)");
    NIDIM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
                          conv.get(), as_int(s.padding, "padding"), as_int(s.padding, "padding"),
                          as_int(s.stride, "stride"), as_int(s.stride, "stride"), 1, 1,
                          CUDNN_CROSS_CORRELATION, t),
                      "conv2d (convolution descriptor)");
  }
};

cudnnMathType_t math_type(bool is_float) {
  if (!is_float) return CUDNN_DEFAULT_MATH;
  return tf32_cuda() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

struct Choice {
  int algo = 0;
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

using ConvKey = std::tuple<int, int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, int64_t, bool>;

struct AlgoCache {
  std::mutex mutex;
  std::map<ConvKey, Choice> choices;
};

AlgoCache& algo_cache() {
  static AlgoCache* c = new AlgoCache();
  return *c;
}

bool use_find() {
  const char* v = std::getenv("NIDIM_CUDNN_FIND");
  return !(v && v[0] == '0');
}

// The fastest result that succeeded and fits the cap, deterministic ones first. Without --tf32,
// results on tensor-op math are skipped: the heuristics (NIDIM_CUDNN_FIND=0) may list them even
// though the descriptor asks for FMA math, and adopting one would round to TF32.
template <class Perf>
Choice pick(const Perf* results, int count, size_t cap, const char* what) {
  for (int pass = 0; pass < 2; ++pass)
    for (int k = 0; k < count; ++k) {
      const Perf& r = results[k];
      if (r.status != CUDNN_STATUS_SUCCESS || r.memory > cap) continue;
      if (!tf32_cuda() && r.mathType != CUDNN_DEFAULT_MATH && r.mathType != CUDNN_FMA_MATH)
        continue;
      if (pass == 0 && r.determinism != CUDNN_DETERMINISTIC) continue;
      return {static_cast<int>(r.algo), r.memory, r.mathType};
    }
  NIDIM_FAIL("{}: cuDNN found no algorithm within the workspace cap of {} bytes ({} candidates)",
             what, cap, count);
}

constexpr int bias_threads = 256;

template <class T>
__global__ void __launch_bounds__(bias_threads)
    conv_bias_grad_partial_kernel(double* part, const T* dy, int64_t N, int64_t O, int64_t S) {
  const int64_t P = gridDim.x, p = blockIdx.x, o = blockIdx.y;
  double acc = 0;
  for (int64_t n = p * N / P; n < (p + 1) * N / P; ++n) {
    const T* row = dy + (n * O + o) * S;
    for (int64_t r = threadIdx.x; r < S; r += bias_threads) acc += static_cast<double>(row[r]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) part[o * P + p] = acc;
}

template <class T>
__global__ void conv_bias_grad_finalize_kernel(T* db, const double* part, int64_t O, int64_t P) {
  NIDIM_GRID_LOOP(o, O) {
    double acc = 0;
    for (int64_t p = 0; p < P; ++p) acc += part[o * P + p];
    db[o] = static_cast<T>(acc);
  }
}

// db = sum of dy [N, O, S] over N and S.
template <class T>
void conv_bias_grad(T* db, const T* dy, int64_t N, int64_t O, int64_t S) {
  NIDIM_CHECK(O <= 65535, "conv2d backward (bias): {} output channels is beyond the grid", O);
  // About 1024 blocks in all, at least one image each.
  const int64_t P = std::clamp<int64_t>((1024 + O - 1) / O, 1, std::max<int64_t>(N, 1));
  CudaBuffer part = scratch(sizeof(double) * static_cast<size_t>(P * O));
  cudaStream_t stream = current_stream();
  conv_bias_grad_partial_kernel<T>
      <<<dim3(static_cast<unsigned>(P), static_cast<unsigned>(O)), bias_threads, 0, stream>>>(
          part.as<double>(), dy, N, O, S);
  conv_bias_grad_finalize_kernel<T>
      <<<grid_for(O), block_threads, 0, stream>>>(db, part.as<double>(), O, P);
}

// Chooses (once per key) the algorithm of `pass` for this shape; the buffers are the call's own
// (Find runs the candidates on them; their outputs are overwritten by the real call after).
template <class T>
Choice choose(ConvPass pass, const Conv2dShape& s, ConvDescriptors<T>& d, const T* x, const T* w,
              const T* y, void* out) {
  const bool is_float = sizeof(T) == 4;
  const ConvKey key{current_device(),
                    static_cast<int>(pass),
                    static_cast<int>(sizeof(T)),
                    s.N,
                    s.C,
                    s.H,
                    s.W,
                    s.O,
                    s.KH,
                    s.KW,
                    s.stride,
                    s.padding,
                    is_float && tf32_cuda()};
  AlgoCache& cache = algo_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.choices.find(key);
    if (it != cache.choices.end()) return it->second;
  }
  cudnnHandle_t h = cudnn_handle();
  const size_t cap = conv_workspace_limit_cuda();
  NIDIM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), math_type(is_float)),
                    "conv2d (math type)");
  const bool find = use_find();
  CudaBuffer workspace = find ? scratch(cap) : CudaBuffer();
  Choice c;
  int count = 0;
  if (pass == ConvPass::forward) {
    cudnnConvolutionFwdAlgoPerf_t r[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    if (find)
      NIDIM_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
                            h, d.x.get(), x, d.w.get(), w, d.conv.get(), d.y.get(), out,
                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, r, workspace.get(), cap),
                        "conv2d (choosing the forward algorithm)");
    else
      NIDIM_CUDNN_CHECK(
          cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, r),
          "conv2d (choosing the forward algorithm)");
    c = pick(r, count, cap, "conv2d forward");
  } else if (pass == ConvPass::backward_data) {
    cudnnConvolutionBwdDataAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    if (find)
      NIDIM_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
                            h, d.w.get(), w, d.y.get(), y, d.conv.get(), d.x.get(), out,
                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, r, workspace.get(), cap),
                        "conv2d backward (choosing the data algorithm)");
    else
      NIDIM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                            h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, r),
                        "conv2d backward (choosing the data algorithm)");
    c = pick(r, count, cap, "conv2d backward (data)");
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    if (find)
      NIDIM_CUDNN_CHECK(
          cudnnFindConvolutionBackwardFilterAlgorithmEx(
              h, d.x.get(), x, d.y.get(), y, d.conv.get(), d.w.get(), out,
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, r, workspace.get(), cap),
          "conv2d backward (choosing the filter algorithm)");
    else
      NIDIM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                            h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, r),
                        "conv2d backward (choosing the filter algorithm)");
    c = pick(r, count, cap, "conv2d backward (filter)");
  }
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.choices[key] = c;
  return c;
}

// The header line of conv_algorithms_cuda(): format, cuDNN's version, the device's name.
std::string algorithms_header(int device) {
  return fmt::format("nidim cudnn algorithms 1, cudnn {}, device {}", cudnnGetVersion(),
                     cuda_device_name(device));
}

}  // namespace

std::string conv_algorithms_cuda(int device) {
  std::string text = algorithms_header(device) + "\n";
  AlgoCache& cache = algo_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  for (const auto& [k, c] : cache.choices) {
    if (std::get<0>(k) != device) continue;
    // pass, dtype bytes, N C H W O KH KW, stride, padding, TF32 -> algorithm, workspace, math
    text += fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n", std::get<1>(k),
                        std::get<2>(k), std::get<3>(k), std::get<4>(k), std::get<5>(k),
                        std::get<6>(k), std::get<7>(k), std::get<8>(k), std::get<9>(k),
                        std::get<10>(k), std::get<11>(k), std::get<12>(k) ? 1 : 0, c.algo,
                        c.workspace, static_cast<int>(c.math));
  }
  return text;
}

int64_t set_conv_algorithms_cuda(const std::string& text, int device, std::string* why) {
  std::istringstream in(text);
  std::string header;
  std::getline(in, header);
  if (header != algorithms_header(device)) {
    if (why)
      *why = fmt::format("written for '{}', this is '{}'", header, algorithms_header(device));
    return 0;
  }
  std::map<ConvKey, Choice> read;
  int line_number = 1;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    std::istringstream f(line);
    int pass = 0, bytes = 0, tf32 = 0, math = 0;
    int64_t n[9];
    Choice c;
    f >> pass >> bytes;
    for (int64_t& v : n) f >> v;
    f >> tf32 >> c.algo >> c.workspace >> math;
    std::string rest;
    if (!f || (f >> rest) || pass < 0 || pass > 2) {
      if (why) *why = fmt::format("line {} is not a choice: '{}'", line_number, line);
      return 0;
    }
    c.math = static_cast<cudnnMathType_t>(math);
    read[ConvKey{device, pass, bytes, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8],
                 tf32 != 0}] = c;
  }
  AlgoCache& cache = algo_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  for (const auto& [k, c] : read) cache.choices[k] = c;
  if (why) why->clear();
  return static_cast<int64_t>(read.size());
}

template <class T>
void conv2d_forward_cuda(T* y, const T* x, const T* w, const T* bias, const Conv2dShape& s) {
  if (s.N == 0 || s.O == 0) return;  // an empty output
  ConvDescriptors<T> d(s);
  const Choice c = choose<T>(ConvPass::forward, s, d, x, w, nullptr, y);
  cudnnHandle_t h = cudnn_handle();
  NIDIM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math), "conv2d (math type)");
  CudaBuffer workspace = scratch(c.workspace);
  const T one = 1, zero = 0;
  NIDIM_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                            static_cast<cudnnConvolutionFwdAlgo_t>(c.algo),
                                            workspace.get(), c.workspace, &zero, d.y.get(), y),
                    "conv2d");
  if (bias)
    NIDIM_CUDNN_CHECK(cudnnAddTensor(h, &one, d.bias.get(), bias, &one, d.y.get(), y),
                      "conv2d (bias)");
}

template <class T>
void conv2d_backward_cuda(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                          const Conv2dShape& s) {
  if (s.N == 0 || s.O == 0) {  // no output: the weight and bias gradients are zero, dx is empty
    cudaStream_t stream = current_stream();
    if (dw)
      NIDIM_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(T) * s.O * s.C * s.KH * s.KW, stream),
                       "conv2d backward");
    if (dbias)
      NIDIM_CUDA_CHECK(cudaMemsetAsync(dbias, 0, sizeof(T) * s.O, stream), "conv2d backward");
    if (dx)
      NIDIM_CUDA_CHECK(cudaMemsetAsync(dx, 0, sizeof(T) * s.N * s.C * s.H * s.W, stream),
                       "conv2d backward");
    return;
  }
  ConvDescriptors<T> d(s);
  cudnnHandle_t h = cudnn_handle();
  const T one = 1, zero = 0;
  if (dbias) conv_bias_grad(dbias, dy, s.N, s.O, s.OH * s.OW);
  if (dw) {
    const Choice c = choose<T>(ConvPass::backward_filter, s, d, x, nullptr, dy, dw);
    NIDIM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math),
                      "conv2d backward (math type)");
    CudaBuffer workspace = scratch(c.workspace);
    NIDIM_CUDNN_CHECK(
        cudnnConvolutionBackwardFilter(h, &one, d.x.get(), x, d.y.get(), dy, d.conv.get(),
                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo),
                                       workspace.get(), c.workspace, &zero, d.w.get(), dw),
        "conv2d backward (filter)");
  }
  if (dx) {
    const Choice c = choose<T>(ConvPass::backward_data, s, d, nullptr, w, dy, dx);
    NIDIM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math),
                      "conv2d backward (math type)");
    CudaBuffer workspace = scratch(c.workspace);
    NIDIM_CUDNN_CHECK(
        cudnnConvolutionBackwardData(h, &one, d.w.get(), w, d.y.get(), dy, d.conv.get(),
                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo),
                                     workspace.get(), c.workspace, &zero, d.x.get(), dx),
        "conv2d backward (data)");
  }
}

template void conv2d_forward_cuda<float>(float*, const float*, const float*, const float*,
                                         const Conv2dShape&);
template void conv2d_forward_cuda<double>(double*, const double*, const double*, const double*,
                                          const Conv2dShape&);
template void conv2d_backward_cuda<float>(float*, float*, float*, const float*, const float*,
                                          const float*, const Conv2dShape&);
template void conv2d_backward_cuda<double>(double*, double*, double*, const double*, const double*,
                                           const double*, const Conv2dShape&);

}  // namespace nidim
