// nidim/kernels/cuda_stub.cpp: the CUDA dispatch entry for builds without CUDA. No tensor can
// live on a CUDA device in such a build (allocation fails first), so reaching it is a bug.
#include "core/error.h"
#include "kernels/dispatch.h"

namespace nidim {

void dispatch_cuda(KernelCall& call) {
  NIDIM_FAIL("{}: nidim was built without CUDA", op_name(call.op));
}

}  // namespace nidim
