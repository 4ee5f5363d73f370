// nidim/core/tensor.h: Tensor, a handle to shaped, typed, reference-counted device memory that
// can take part in automatic differentiation.
//
// Conventions: tensors are contiguous and row-major (the last dimension varies fastest), with at
// most four dimensions. Copying a Tensor copies the handle, not the data (like torch.Tensor).
// Views (reshape, slice along dim 0) share the storage of their base.
// This header holds only what needs no kernel: construction from host data, access, copies
// between devices, and the autograd fields. Ops that compute (zeros, rand, add, matmul...) are
// in kernels/ops.h.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace nidim {

class Node;
class PinnedReadback;
struct TensorImpl;

// A one-element tensor's value on its way to the host (Tensor::item_async). get() returns it as
// double, waiting for the copy the first time if it has not landed yet.
class PendingItem {
 public:
  PendingItem() = default;
  double get() const;
  bool valid() const { return m_dtype_known; }

 private:
  friend class Tensor;
  bool m_dtype_known = false;
  DType m_dtype = DType::f32;
  mutable bool m_ready = false;
  mutable double m_value = 0;
  mutable std::shared_ptr<PinnedReadback> m_copy;  // CUDA tensors, until get() has read it
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing

  // Uninitialized memory.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // Copies `shape.numel()` elements of `dtype` from host memory.
  static Tensor from_host(const void* data, const Shape& shape, DType dtype,
                          Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu()) {
    NIDIM_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
                "from_vector: {} values for shape {} ({} elements)", values.size(), shape,
                shape.numel());
    return from_host(values.data(), shape, dtype_of<T>, device);
  }

  bool defined() const { return m_impl != nullptr; }
  const Shape& shape() const;
  int ndim() const { return shape().ndim(); }
  int64_t size(int axis) const { return shape().size(axis); }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  // "float32 [2, 3] cpu"
  std::string str() const;

  // Raw pointer to the first element on the tensor's device.
  void* raw();
  const void* raw() const;
  // Typed host pointer; throws when the dtype differs or the tensor is not on the CPU.
  template <class T>
  T* data() {
    check_access(dtype_of<T>);
    return static_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    check_access(dtype_of<T>);
    return static_cast<const T*>(raw());
  }

  // Copies to host memory as T (dtype must be T).
  template <class T>
  std::vector<T> to_vector() const {
    NIDIM_CHECK(dtype() == dtype_of<T>, "to_vector: tensor is {}, asked for {}",
                dtype_name(dtype()), dtype_name(dtype_of<T>));
    std::vector<T> out(static_cast<size_t>(numel()));
    copy_bytes(out.data(), Device::cpu(), raw(), device(), nbytes());
    return out;
  }
  // The value of a one-element floating tensor, as double. On CUDA it waits for the queued work.
  double item() const;
  // The same value, without waiting: the copy is queued after the work so far and
  // PendingItem::get() waits for it alone (a CPU tensor's value is read at once).
  PendingItem item_async() const;

  // A copy on `device` (a new storage even when the device is the same).
  Tensor to(Device device) const;
  Tensor clone() const { return to(device()); }
  // Moves this tensor's data to `device` in place: every handle to it (a module's parameter
  // held by a layer and by an optimizer) sees the new storage. Leaves only; the gradient, if any,
  // moves too. Views of the old storage keep the old data.
  void move_to(Device device);
  // Same storage, other shape (numel must match); no autograd edge: see nidim::reshape.
  Tensor view(const Shape& shape) const;
  // Same storage, rows [begin, end) of dimension 0; no autograd edge: see nidim::slice.
  Tensor rows(int64_t begin, int64_t end) const;
  bool shares_storage(const Tensor& other) const;
  int64_t storage_use_count() const;

  // ---- autograd --------------------------------------------------------------------------
  bool requires_grad() const;
  // Marks a leaf as a parameter whose gradient accumulates in grad(). Floating dtypes only.
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const;  // no grad_fn: made by the user, not recorded from an op
  const Tensor& grad() const;
  void set_grad(const Tensor& g);
  void zero_grad() { set_grad(Tensor()); }
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  // Same data, cut from the graph.
  Tensor detach() const;
  // No data: the same shape, dtype, requires_grad and grad_fn in a new handle. A graph node keeps
  // this of an input that is not a parameter, so the graph alone does not keep activations alive:
  // each backward function keeps the tensors it reads (autograd.h).
  Tensor graph_edge() const;
  // Gradients of this scalar with respect to every leaf that requires them (kernels/autograd.cpp).
  // First it reads the loss and refuses a non-finite one, which on CUDA waits for the forward
  // pass; a training loop that checks its losses itself, later (item_async), passes false so the
  // backward pass is queued behind the forward without a wait.
  void backward(bool check_finite = true) const;

  TensorImpl* impl() const { return m_impl.get(); }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : m_impl(std::move(impl)) {}
  void check_access(DType want) const;
  std::shared_ptr<TensorImpl> m_impl;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes from the start of storage
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

}  // namespace nidim
