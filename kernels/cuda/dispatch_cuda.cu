// nidim/kernels/cuda/dispatch_cuda.cu: the CUDA backend's dispatch switch, the entry layer of
// every CUDA op.
//
// Same shape as kernels/cpu/dispatch_cpu.cpp: one case per op, no default (-Werror=switch), so an
// op added to core/op.h does not compile until this backend handles it. Each case unpacks the
// KernelCall's tensors (operand order in kernels/dispatch.h) into device pointers and sizes and
// calls the launcher of kernels_cuda.h (float or double), which queues the work on the device's
// compute stream. Around every op: the device guard (the tensors' device becomes current), an
// NVTX range named after the op (core/nvtx.h; free unless NIDIM_NVTX), and after it one
// cudaGetLastError check naming the op. With the environment variable NIDIM_CUDA_SYNC=1 every op
// also waits for its kernels and checks again, so that an asynchronous fault is reported by the
// op that caused it (slow; for debugging).
// Scalars that the CPU reads on the host (dloss of cross_entropy, mse and nt_xent, b3 of the critic) are
// passed as device pointers: reading them here would stall the stream.
#include <cstdlib>

#include "core/cuda/check.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "core/nvtx.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/dispatch.h"
#include "kernels/unpack.h"

namespace nidim {

namespace {

using namespace unpack;

int device_of(const KernelCall& call) {
  for (const Tensor& t : call.out)
    if (t.defined()) return t.device().index;
  for (const Tensor& t : call.in)
    if (t.defined()) return t.device().index;
  NIDIM_FAIL("{}: a kernel call without tensors", op_name(call.op));
}

bool sync_every_op() {
  static const bool on = [] {
    const char* v = std::getenv("NIDIM_CUDA_SYNC");
    return v && v[0] != '\0' && v[0] != '0';
  }();
  return on;
}

void run_op(KernelCall& call) {
  const bool fwd = call.pass == Pass::forward;
  std::vector<Tensor>& in = call.in;
  std::vector<Tensor>& out = call.out;
  const OpParams& p = call.p;
  const Op op = call.op;
  switch (op) {
    case Op::fill:
      return with_any(out[0].dtype(), [&](auto t) {
        using T = decltype(t);
        fill_cuda<T>(ptr<T>(out[0]), out[0].numel(), static_cast<T>(p.f[0]));
      });
    case Op::uniform:
      return with_float(op, out[0].dtype(), [&](auto t) {
        using T = decltype(t);
        uniform_cuda<T>(ptr<T>(out[0]), out[0].numel(), p.i[0], p.i[1], p.i[2], T(p.f[0]),
                        T(p.f[1]));
      });
    case Op::normal:
      return with_float(op, out[0].dtype(), [&](auto t) {
        using T = decltype(t);
        normal_cuda<T>(ptr<T>(out[0]), out[0].numel(), p.i[0], p.i[1], p.i[2], T(p.f[0]),
                       T(p.f[1]));
      });
    case Op::cast:
      return with_any(out[0].dtype(), [&](auto to) {
        with_any(in[0].dtype(), [&](auto from) {
          using TO = decltype(to);
          using TI = decltype(from);
          cast_cuda<TO, TI>(ptr<TO>(out[0]), cptr<TI>(in[0]), in[0].numel());
        });
      });
    case Op::matmul:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        const Tensor& a = in[fwd ? 0 : 1];
        const Tensor& b = in[fwd ? 1 : 2];
        const bool ta = p.i[0], tb = p.i[1];
        const int64_t M = ta ? a.size(1) : a.size(0), K = ta ? a.size(0) : a.size(1);
        const int64_t N = tb ? b.size(0) : b.size(1);
        if (fwd)
          matmul_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(a), cptr<T>(b), M, N, K, ta, tb);
        else
          matmul_backward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), cptr<T>(in[0]), cptr<T>(a),
                                  cptr<T>(b), M, N, K, ta, tb);
      });
    case Op::add:
    case Op::sub:
    case Op::mul:
    case Op::div:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd) {
          const Broadcast4 s = broadcast4(out[0].shape(), in[0].shape(), in[1].shape());
          binary_forward_cuda<T>(op, ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), s);
        } else {
          const Broadcast4 s = broadcast4(in[0].shape(), in[1].shape(), in[2].shape());
          binary_backward_cuda<T>(op, ptr<T>(out[0]), ptr<T>(out[1]), cptr<T>(in[0]),
                                  cptr<T>(in[1]), cptr<T>(in[2]), s);
        }
      });
    case Op::neg:
    case Op::exp:
    case Op::log:
    case Op::sqrt:
    case Op::pow:
    case Op::abs:
    case Op::tanh:
    case Op::sigmoid:
    case Op::erf:
    case Op::relu:
    case Op::leaky_relu:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd)
          unary_forward_cuda<T>(op, ptr<T>(out[0]), cptr<T>(in[0]), in[0].numel(), T(p.f[0]));
        else
          unary_backward_cuda<T>(op, ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), cptr<T>(in[2]),
                                 in[0].numel(), T(p.f[0]));
      });
    case Op::sum:
    case Op::mean:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        int64_t R, A, I;
        lanes(fwd ? in[0].shape() : out[0].shape(), p.i[0], R, A, I);
        const double scale = op == Op::mean ? 1.0 / static_cast<double>(A) : 1.0;
        if (fwd)
          sum_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), R, A, I, scale);
        else
          sum_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), R, A, I, scale);
      });
    case Op::max:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        int64_t R, A, I;
        lanes(fwd ? in[0].shape() : out[0].shape(), p.i[0], R, A, I);
        if (fwd)
          max_forward_cuda<T>(ptr<T>(out[0]), ptr<int64_t>(out[1]), cptr<T>(in[0]), R, A, I);
        else
          max_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<int64_t>(in[1]), R, A, I);
      });
    case Op::logsumexp:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        int64_t R, A, I;
        lanes(fwd ? in[0].shape() : out[0].shape(), p.i[0], R, A, I);
        if (fwd)
          logsumexp_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), R, A, I);
        else
          logsumexp_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), cptr<T>(in[2]),
                                     R, A, I);
      });
    case Op::softmax:
    case Op::log_softmax:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        int64_t R, A, I;
        lanes(in[0].shape(), p.i[0], R, A, I);
        const bool log = op == Op::log_softmax;
        if (fwd)
          softmax_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), R, A, I, log);
        else
          softmax_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), R, A, I, log);
      });
    case Op::cross_entropy:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd) {
          const int64_t N = in[0].size(0), C = in[0].size(1);
          cross_entropy_forward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), cptr<T>(in[0]),
                                        cptr<int32_t>(in[1]), N, C);
        } else {
          const int64_t N = in[1].size(0), C = in[1].size(1);
          cross_entropy_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]),
                                         cptr<int32_t>(in[2]), N, C);
        }
      });
    case Op::mse:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd)
          mse_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), in[0].numel());
        else
          mse_backward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), cptr<T>(in[0]), cptr<T>(in[1]),
                               cptr<T>(in[2]), in[1].numel());
      });
    case Op::nt_xent:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        const Tensor& z = in[fwd ? 0 : 1];
        const NtXentShape s = nt_xent_shape(z, p);
        if (fwd)
          nt_xent_forward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), cptr<T>(z), s);
        else
          nt_xent_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(z), cptr<T>(in[2]),
                                   s);
      });
    case Op::conv2d:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd) {
          const Conv2dShape s = conv_shape(in[0], in[1], out[0], p);
          conv2d_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]), cptr<T>(in[2]), s);
        } else {
          const Conv2dShape s = conv_shape(in[1], in[2], in[0], p);
          conv2d_backward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]), cptr<T>(in[0]),
                                  cptr<T>(in[1]), cptr<T>(in[2]), s);
        }
      });
    case Op::avg_pool2d:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd)
          avg_pool2d_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), pool_shape(in[0], out[0], p));
        else
          avg_pool2d_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), pool_shape(out[0], in[0], p));
      });
    case Op::max_pool2d:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        if (fwd)
          max_pool2d_forward_cuda<T>(ptr<T>(out[0]), ptr<int32_t>(out[1]), cptr<T>(in[0]),
                                     pool_shape(in[0], out[0], p));
        else
          max_pool2d_backward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<int32_t>(in[1]),
                                      pool_shape(out[0], in[0], p));
      });
    case Op::batch_norm:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        int64_t N, C, S;
        if (fwd) {
          bn_dims(in[0], N, C, S);
          batch_norm_forward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]), cptr<T>(in[0]),
                                     cptr<T>(in[1]), cptr<T>(in[2]), ptr<T>(in[3]), ptr<T>(in[4]),
                                     N, C, S, p.i[0] != 0, p.f[0], p.f[1]);
        } else {
          bn_dims(in[1], N, C, S);
          batch_norm_backward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]),
                                      cptr<T>(in[0]), cptr<T>(in[1]), cptr<T>(in[2]),
                                      cptr<T>(in[3]), cptr<T>(in[4]), N, C, S, p.i[0] != 0);
        }
      });
    case Op::reshape:
    case Op::slice:
      view_op(op);
    case Op::transpose:
      return with_any(in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        transpose_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), in[0].size(0), in[0].size(1));
      });
    case Op::concat:
      return with_any(fwd ? out[0].dtype() : in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        const Tensor& whole = fwd ? out[0] : in[0];
        std::vector<Tensor>& parts = fwd ? in : out;
        int64_t R, A_total, I;
        lanes(whole.shape(), p.i[0], R, A_total, I);
        int64_t at = 0;
        for (Tensor& part : parts) {
          if (!part.defined())
            continue;  // never: ops.cpp makes every part (its position is its size)
          const int64_t A_k = part.size(static_cast<int>(p.i[0]));
          if (part.numel() > 0) {
            if (fwd)
              concat_part_cuda<T>(ptr<T>(out[0]), cptr<T>(part), R, A_total, A_k, I, at);
            else
              split_part_cuda<T>(ptr<T>(part), cptr<T>(in[0]), R, A_total, A_k, I, at);
          }
          at += A_k;
        }
      });
    case Op::pairwise_mlp:
    case Op::pairwise_mlp_infonce:
      return with_float(op, in[fwd ? 0 : 1].dtype(), [&](auto t) {
        using T = decltype(t);
        const int k = fwd ? 0 : 1;  // operands u, v, W2, b2, w3, b3 start at in[k]
        const PairwiseShape s{in[k].size(0), in[k + 1].size(0), in[k].size(1), p.f[0], p.i[0]};
        const T* b3 = cptr<T>(in[k + 5]);
        if (op == Op::pairwise_mlp_infonce) {
          NIDIM_CHECK(fwd, "pairwise_mlp_infonce: the backward pass has no kernel");
          pairwise_mlp_infonce_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]),
                                       ptr<T>(out[3]), ptr<T>(out[4]), ptr<T>(out[5]),
                                       ptr<T>(out[6]), cptr<T>(in[0]), cptr<T>(in[1]),
                                       cptr<T>(in[2]), cptr<T>(in[3]), cptr<T>(in[4]), b3, s);
        } else if (fwd) {
          pairwise_mlp_forward_cuda<T>(ptr<T>(out[0]), cptr<T>(in[0]), cptr<T>(in[1]),
                                       cptr<T>(in[2]), cptr<T>(in[3]), cptr<T>(in[4]), b3, s);
        } else {
          pairwise_mlp_backward_cuda<T>(ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]),
                                        ptr<T>(out[3]), ptr<T>(out[4]), ptr<T>(out[5]),
                                        cptr<T>(in[0]), cptr<T>(in[1]), cptr<T>(in[2]),
                                        cptr<T>(in[3]), cptr<T>(in[4]), cptr<T>(in[5]), b3, s);
        }
      });
    case Op::sgd_step:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        sgd_step_cuda<T>(ptr<T>(in[0]), cptr<T>(in[1]), ptr<T>(in[2]), in[0].numel(), p.f[0],
                         p.f[1], p.f[2], p.f[3], p.f[4], p.i[0] != 0, p.i[1] != 0);
      });
    case Op::adam_step:
      return with_float(op, in[0].dtype(), [&](auto t) {
        using T = decltype(t);
        adam_step_cuda<T>(ptr<T>(in[0]), cptr<T>(in[1]), ptr<T>(in[2]), ptr<T>(in[3]),
                          in[0].numel(), p.f[0], p.f[1], p.f[2], p.f[3], p.f[4], p.i[0],
                          p.i[1] != 0);
      });
    case Op::count:
      break;
  }
  NIDIM_FAIL("dispatch_cuda: unknown op {}", static_cast<int>(op));
}

}  // namespace

void dispatch_cuda(KernelCall& call) {
  const Op op = call.op;
  DeviceGuard guard(device_of(call));
  NIDIM_NVTX_RANGE(op_name(op));
  run_op(call);
  NIDIM_CUDA_CHECK(cudaGetLastError(), op_name(op));
  if (sync_every_op()) NIDIM_CUDA_CHECK(cudaStreamSynchronize(current_stream()), op_name(op));
}

}  // namespace nidim
