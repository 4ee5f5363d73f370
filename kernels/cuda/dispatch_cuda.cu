// nidim/kernels/cuda/dispatch_cuda.cu: the CUDA backend's dispatch switch.
//
// Same shape as kernels/cpu/dispatch_cpu.cpp: one case per op, no default (-Werror=switch), so
// an op added to core/op.h does not compile until this backend handles it. The CUDA kernels
// themselves are not written yet (they are the CUDA backend issue); until then every op reports
// that it has no CUDA kernel, naming the op. After each kernel launch, one cudaGetLastError check
// names the op.
#include "core/cuda/check.h"
#include "core/error.h"
#include "kernels/dispatch.h"

namespace nidim {

namespace {
[[noreturn]] void not_yet(Op op) {
  NIDIM_FAIL("{}: no CUDA kernel yet; run on the cpu device", op_name(op));
}
}  // namespace

void dispatch_cuda(KernelCall& call) {
  const Op op = call.op;
  switch (op) {
    case Op::fill:
    case Op::uniform:
    case Op::normal:
    case Op::cast:
    case Op::matmul:
    case Op::add:
    case Op::sub:
    case Op::mul:
    case Op::div:
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
    case Op::sum:
    case Op::mean:
    case Op::max:
    case Op::logsumexp:
    case Op::softmax:
    case Op::log_softmax:
    case Op::cross_entropy:
    case Op::mse:
    case Op::conv2d:
    case Op::avg_pool2d:
    case Op::max_pool2d:
    case Op::batch_norm:
    case Op::reshape:
    case Op::transpose:
    case Op::slice:
    case Op::concat:
    case Op::pairwise_mlp:
    case Op::pairwise_mlp_infonce:
    case Op::sgd_step:
    case Op::adam_step:
      not_yet(op);
    case Op::count:
      break;
  }
  NIDIM_CUDA_CHECK(cudaGetLastError(), op_name(op));
  NIDIM_FAIL("dispatch_cuda: unknown op {}", static_cast<int>(op));
}

}  // namespace nidim
