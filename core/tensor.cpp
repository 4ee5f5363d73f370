// nidim/core/tensor.cpp: see tensor.h.
#include "core/tensor.h"

#include "core/autograd.h"
#include "core/cuda/memory.h"

namespace nidim {

namespace {
const Shape& undefined_shape() {
  static const Shape s;
  return s;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_host(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  copy_bytes(t.raw(), device, data, Device::cpu(), t.nbytes());
  return t;
}

const Shape& Tensor::shape() const {
  return m_impl ? m_impl->shape : undefined_shape();
}

DType Tensor::dtype() const {
  NIDIM_CHECK(m_impl, "dtype of an undefined tensor");
  return m_impl->dtype;
}

Device Tensor::device() const {
  NIDIM_CHECK(m_impl, "device of an undefined tensor");
  return m_impl->storage->device();
}

std::string Tensor::str() const {
  if (!m_impl) return "undefined";
  return fmt::format("{} {} {}", dtype_name(dtype()), shape().str(), device().str());
}

void* Tensor::raw() {
  NIDIM_CHECK(m_impl, "data of an undefined tensor");
  return static_cast<char*>(m_impl->storage->data()) + m_impl->offset;
}

const void* Tensor::raw() const {
  NIDIM_CHECK(m_impl, "data of an undefined tensor");
  return static_cast<const char*>(m_impl->storage->data()) + m_impl->offset;
}

void Tensor::check_access(DType want) const {
  NIDIM_CHECK(m_impl, "data of an undefined tensor");
  NIDIM_CHECK(m_impl->dtype == want, "data<{}>() of a {} tensor", dtype_name(want),
              dtype_name(m_impl->dtype));
  NIDIM_CHECK(device().is_cpu(), "data<{}>() of a tensor on {}: copy it to the cpu first",
              dtype_name(want), device().str());
}

namespace {
template <class T>
double read_as_double(const void* bytes) {
  T v;
  std::memcpy(&v, bytes, sizeof v);
  return static_cast<double>(v);
}

double scalar_as_double(const void* bytes, DType dtype) {
  switch (dtype) {
    case DType::f32:
      return read_as_double<float>(bytes);
    case DType::f64:
      return read_as_double<double>(bytes);
    case DType::i32:
      return read_as_double<int32_t>(bytes);
    case DType::i64:
      return read_as_double<int64_t>(bytes);
    case DType::u8:
      return read_as_double<uint8_t>(bytes);
  }
  return 0;
}
}  // namespace

double Tensor::item() const {
  NIDIM_CHECK(defined(), "item() of an undefined tensor");
  NIDIM_CHECK(numel() == 1, "item() needs one element, tensor has shape {}", shape());
  unsigned char bytes[8];
  copy_bytes(bytes, Device::cpu(), raw(), device(), dtype_size(dtype()));
  return scalar_as_double(bytes, dtype());
}

PendingItem Tensor::item_async() const {
  NIDIM_CHECK(defined(), "item_async() of an undefined tensor");
  NIDIM_CHECK(numel() == 1, "item_async() needs one element, tensor has shape {}", shape());
  PendingItem p;
  p.m_dtype_known = true;
  p.m_dtype = dtype();
  if (device().is_cpu()) {
    p.m_value = scalar_as_double(raw(), dtype());
    p.m_ready = true;
  } else {
    p.m_copy = std::make_shared<PinnedReadback>(raw(), dtype_size(dtype()), device().index);
  }
  return p;
}

double PendingItem::get() const {
  NIDIM_CHECK(m_dtype_known, "PendingItem::get(): no value (default-constructed)");
  if (!m_ready) {
    unsigned char bytes[8];
    m_copy->wait_into(bytes);
    m_value = scalar_as_double(bytes, m_dtype);
    m_ready = true;
    m_copy.reset();  // the slot goes back to the pool
  }
  return m_value;
}

Tensor Tensor::to(Device target) const {
  NIDIM_CHECK(defined(), "to({}) of an undefined tensor", target.str());
  Tensor out = empty(shape(), dtype(), target);
  copy_bytes(out.raw(), target, raw(), device(), nbytes());
  return out;
}

void Tensor::move_to(Device target) {
  NIDIM_CHECK(defined(), "move_to({}) of an undefined tensor", target.str());
  NIDIM_CHECK(is_leaf(), "move_to({}): only leaves can move, this tensor was made by {}",
              target.str(), op_name(m_impl->grad_fn->op()));
  if (device() == target) return;
  Tensor moved = to(target);
  m_impl->storage = moved.m_impl->storage;
  m_impl->offset = 0;
  if (m_impl->grad.defined()) m_impl->grad = m_impl->grad.to(target);
}

Tensor Tensor::view(const Shape& s) const {
  NIDIM_CHECK(defined(), "view of an undefined tensor");
  NIDIM_CHECK(s.numel() == numel(), "view: cannot view shape {} ({} elements) as {} ({} elements)",
              shape(), numel(), s, s.numel());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = m_impl->storage;
  impl->offset = m_impl->offset;
  impl->shape = s;
  impl->dtype = m_impl->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  NIDIM_CHECK(defined() && ndim() >= 1, "rows: needs a tensor with at least one dimension, got {}",
              str());
  NIDIM_CHECK(0 <= begin && begin <= end && end <= shape()[0],
              "rows: range [{}, {}) out of bounds for shape {}", begin, end, shape());
  Shape s = shape();
  s[0] = end - begin;
  const size_t row_bytes =
      static_cast<size_t>(numel() / std::max<int64_t>(shape()[0], 1)) * dtype_size(dtype());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = m_impl->storage;
  impl->offset = m_impl->offset + static_cast<size_t>(begin) * row_bytes;
  impl->shape = s;
  impl->dtype = m_impl->dtype;
  return Tensor(std::move(impl));
}

bool Tensor::shares_storage(const Tensor& other) const {
  return defined() && other.defined() && m_impl->storage == other.m_impl->storage;
}

int64_t Tensor::storage_use_count() const {
  return m_impl ? m_impl->storage.use_count() : 0;
}

bool Tensor::requires_grad() const {
  return m_impl && m_impl->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool on) {
  NIDIM_CHECK(defined(), "set_requires_grad on an undefined tensor");
  NIDIM_CHECK(!on || is_floating(dtype()),
              "set_requires_grad: only floating tensors have "
              "gradients, this one is {}",
              dtype_name(dtype()));
  NIDIM_CHECK(is_leaf(),
              "set_requires_grad: only leaves can be changed, this tensor was made by "
              "{}; use detach()",
              op_name(m_impl->grad_fn->op()));
  m_impl->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  return !m_impl || !m_impl->grad_fn;
}

const Tensor& Tensor::grad() const {
  static const Tensor none;
  return m_impl ? m_impl->grad : none;
}

void Tensor::set_grad(const Tensor& g) {
  NIDIM_CHECK(defined(), "set_grad on an undefined tensor");
  NIDIM_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient shape {} differs from {}",
              g.shape(), shape());
  m_impl->grad = g;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return m_impl ? m_impl->grad_fn : none;
}

void Tensor::set_grad_fn(std::shared_ptr<Node> node) {
  m_impl->grad_fn = std::move(node);
  m_impl->requires_grad = m_impl->grad_fn != nullptr;
}

Tensor Tensor::detach() const {
  if (!defined()) return Tensor();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = m_impl->storage;
  impl->offset = m_impl->offset;
  impl->shape = m_impl->shape;
  impl->dtype = m_impl->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::graph_edge() const {
  if (!defined()) return Tensor();
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = m_impl->shape;
  impl->dtype = m_impl->dtype;
  impl->requires_grad = m_impl->requires_grad;
  impl->grad_fn = m_impl->grad_fn;
  return Tensor(std::move(impl));
}

}  // namespace nidim
