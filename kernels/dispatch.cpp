// nidim/kernels/dispatch.cpp: routes a KernelCall to the backend of its tensors' device.
#include "kernels/dispatch.h"

#include "core/error.h"

namespace nidim {

void dispatch(KernelCall& call) {
  const Tensor* first = nullptr;
  auto check = [&](const Tensor& t) {
    if (!t.defined()) return;
    if (!first) first = &t;
    NIDIM_CHECK(t.device() == first->device(), "{}: tensors on different devices ({} and {})",
                op_name(call.op), first->device().str(), t.device().str());
  };
  for (const Tensor& t : call.out) check(t);
  for (const Tensor& t : call.in) check(t);
  NIDIM_CHECK(first, "{}: a kernel call without tensors", op_name(call.op));
  if (first->device().is_cpu())
    dispatch_cpu(call);
  else
    dispatch_cuda(call);
}

}  // namespace nidim
