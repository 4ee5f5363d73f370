// The CUDA device runtime: the caching allocator (reuse, counters, no cudaMalloc in a repeated
// loop), copies in every direction (including host-to-device copies larger than one pinned staging
// buffer, which go in chunks), pinned buffers with asynchronous copies, scratch buffers, and the
// TF32 switch. Values are checked exactly: copies must not change a bit.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <numeric>

#include "core/cuda/memory.h"
#include "core/cuda_runtime.h"
#include "core/storage.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace nidim;

namespace {
std::vector<float> iota(size_t n, float start = 0) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
}  // namespace

TEST_CASE("copies host -> device -> device -> host keep every bit, at every size") {
  // 0, tiny, one staging slot, several slots (16 MiB each) and an odd size.
  for (size_t n : {size_t(1), size_t(1000), size_t(1) << 20, (size_t(40) << 20) / 4 + 3}) {
    CAPTURE(n);
    const std::vector<float> host = iota(n, 0.5f);
    Tensor d = Tensor::from_vector(host, {static_cast<int64_t>(n)}, Device::cuda());
    Tensor d2 = d.clone();  // device to device
    CHECK(d2.device() == Device::cuda());
    const std::vector<float> back = d2.to_vector<float>();
    CHECK(std::memcmp(back.data(), host.data(), n * sizeof(float)) == 0);
  }
  // Many small copies in a row reuse the staging ring; each source buffer dies right after.
  Tensor acc = zeros({256}, DType::f32, Device::cuda());
  for (int k = 0; k < 50; ++k)
    acc = acc + Tensor::from_vector(iota(256, static_cast<float>(k)), {256}, Device::cuda());
  const std::vector<float> got = acc.to_vector<float>();
  for (int i = 0; i < 256; ++i) CHECK(got[static_cast<size_t>(i)] == 50.0f * i + 1225.0f);
}

TEST_CASE("the caching allocator reuses blocks: no cudaMalloc once a loop's shapes are known") {
  auto step = [] {
    Generator gen(1);
    Tensor a = randn({512, 256}, gen, 0, 1, DType::f32, Device::cuda());
    Tensor b = matmul(a, a, true, false);
    return sum(b).item();
  };
  step();
  const CudaMemoryStats before = cuda_memory_stats();
  for (int k = 0; k < 5; ++k) step();
  const CudaMemoryStats after = cuda_memory_stats();
  CHECK(after.device_mallocs == before.device_mallocs);
  CHECK(after.cache_hits > before.cache_hits);
  CHECK(after.peak_bytes_in_use >= after.bytes_in_use);
  CHECK(after.bytes_reserved >= after.bytes_in_use);
  CHECK(memory_stats(DeviceType::cuda).peak_bytes > 0);
  reset_cuda_peak_memory();
  CHECK(cuda_memory_stats().peak_bytes_in_use == cuda_memory_stats().bytes_in_use);
}

TEST_CASE("pinned buffers, asynchronous copies and scratch buffers") {
  const size_t n = 1 << 16;
  PinnedBuffer pinned(n * sizeof(float));
  REQUIRE(pinned.get() != nullptr);
  CHECK(cuda_memory_stats().pinned_bytes >= static_cast<int64_t>(n * sizeof(float)));
  float* p = static_cast<float*>(pinned.get());
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(i) * 0.25f;
  Tensor d = Tensor::empty({static_cast<int64_t>(n)}, DType::f32, Device::cuda());
  cuda_copy_pinned_to_device_async(d.raw(), pinned.get(), n * sizeof(float), 0);
  cuda_synchronize(0);
  const std::vector<float> back = d.to_vector<float>();
  CHECK(std::memcmp(back.data(), p, n * sizeof(float)) == 0);
  PinnedBuffer moved = std::move(pinned);
  CHECK(pinned.get() == nullptr);
  CHECK(moved.get() == p);
  CudaBuffer scratch(12345, 0);
  CHECK(scratch.get() != nullptr);
  CudaBuffer other = std::move(scratch);
  CHECK(scratch.get() == nullptr);
  CHECK(other.bytes() == 12345);
}

TEST_CASE("item_async reads a value in stream order, without waiting, through pooled slots") {
  // A reduction queued on the device, its result read back asynchronously: the copy follows the
  // reduction, so the value is the finished sum (checked against the host's).
  const size_t n = size_t(1) << 22;
  std::vector<float> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 97) * 0.5f;
  const double want = std::accumulate(host.begin(), host.end(), 0.0);
  Tensor x = Tensor::from_vector(host, {static_cast<int64_t>(n)}, Device::cuda());
  const PendingItem total = sum(x).item_async();
  // Work queued after the copy does not change what it read: overwrite a scalar after reading it.
  Tensor s = Tensor::from_vector<float>({3}, Shape(), Device::cuda());
  const PendingItem before = s.item_async();
  const float seven = 7;
  cuda_copy(s.raw(), &seven, sizeof seven, CopyKind::host_to_device);
  CHECK(before.get() == 3);
  CHECK(s.item() == 7);
  CHECK(total.get() == doctest::Approx(want).epsilon(1e-5));  // float sums of 4M terms
  // Many in flight at once (each holds a slot until read), then every slot reused.
  int64_t pinned_after_first = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<PendingItem> pending;
    for (int i = 0; i < 100; ++i)
      pending.push_back(
          Tensor::from_vector<double>({i + 0.5 + round}, Shape(), Device::cuda()).item_async());
    for (int i = 0; i < 100; ++i) CHECK(pending[static_cast<size_t>(i)].get() == i + 0.5 + round);
    if (round == 0) pinned_after_first = cuda_memory_stats().pinned_bytes;
    if (round == 1) CHECK(cuda_memory_stats().pinned_bytes == pinned_after_first);  // no new slot
  }
}

TEST_CASE("TF32 is off by default and can be switched") {
  const char* env = std::getenv("NIDIM_TF32");
  if (!(env && env[0] == '1')) CHECK_FALSE(tf32_cuda());
  Generator gen(3);
  Tensor a = randn({128, 256}, gen), b = randn({256, 64}, gen);
  const std::vector<float> exact = matmul(a, b).to_vector<float>();
  const std::vector<float> fp32 =
      matmul(a.to(Device::cuda()), b.to(Device::cuda())).to_vector<float>();
  set_tf32_cuda(true);
  const std::vector<float> tf32 =
      matmul(a.to(Device::cuda()), b.to(Device::cuda())).to_vector<float>();
  set_tf32_cuda(false);
  // float32 FMA: ~1e-6 relative to the row scale (|row| ~ 16); TF32 keeps 10 mantissa bits: ~1e-3.
  double err32 = 0, errtf = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    err32 = std::max(err32, static_cast<double>(std::fabs(fp32[i] - exact[i])));
    errtf = std::max(errtf, static_cast<double>(std::fabs(tf32[i] - exact[i])));
  }
  MESSAGE("max |error| float32 " << err32 << ", TF32 " << errtf);
  CHECK(err32 < 1e-3);
  CHECK(errtf < 0.5);
}

TEST_CASE("tensors and ops name the device in their errors") {
  Tensor a = zeros({2, 3}, DType::f32, Device::cuda()), b = zeros({2, 3});
  test::check_error([&] { add(a, b); }, {"add", "different devices"});
  test::check_error([&] { a.data<float>(); }, {"cuda:0"});
  test::check_error([&] { Tensor::empty({4}, DType::f32, Device::cuda(cuda_device_count())); },
                    {"cuda_allocate"});
}
