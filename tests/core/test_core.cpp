// core: Philox known answers, the generator's bookkeeping, tensors, shapes, files, devices.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/cuda_runtime.h"
#include "core/fpenv.h"
#include "core/io.h"
#include "core/json.h"
#include "core/parallel.h"
#include "core/philox.h"
#include "core/random.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "test_util.h"

using namespace nidim;
using nidim::test::check_error;

TEST_CASE("Philox4x32-10 matches Random123's known-answer vectors") {
  // Random123 tests/kat_vectors, lines "philox4x32 10": counter[4] key[2] -> result[4].
  struct Kat {
    Philox4 ctr;
    uint32_t k0, k1;
    Philox4 expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4 out = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) CHECK(out.v[i] == k.expected.v[i]);
  }
  // philox_block lays out (seed, stream, block) as key (seed lo, hi), counter (block, stream).
  const Philox4 b = philox_block(0xa4093822299f31d0ull >> 0, 0, 0);
  const Philox4 direct = philox4x32_10({{0, 0, 0, 0}}, 0x299f31d0u, 0xa4093822u);
  for (int i = 0; i < 4; ++i) CHECK(b.v[i] == direct.v[i]);
  CHECK(philox_uniform(0) == 0.0f);
  CHECK(philox_uniform(0xffffffffu) < 1.0f);
  CHECK(philox_uniform_pos(0) > 0.0f);
  CHECK(philox_uniform_pos(0xffffffffu) == 1.0f);
}

TEST_CASE("a generator's state is three numbers that reproduce its draws") {
  Generator g(11, 2);
  CHECK(g.reserve(5) == 0);
  CHECK(g.offset() == 8);
  const GeneratorState saved = g.state();
  const double u = g.uniform();
  const uint64_t k = g.uniform_int(7);
  g.set_state(saved);
  CHECK(g.uniform() == u);
  CHECK(g.uniform_int(7) == k);
  CHECK(k < 7);
  check_error([&] { g.set_state({1, 0, 3}); }, {"multiple of 4"});
  // uniform_int covers its range evenly: 6000 draws over 6 values, each count 1000 +- 5 sigma
  // (sigma = sqrt(6000 * 1/6 * 5/6) = 28.9).
  int counts[6] = {0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 6000; ++i) counts[g.uniform_int(6)]++;
  for (int c : counts) CHECK(std::abs(c - 1000) < 145);
}

TEST_CASE("tensors: construction, views, copies") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.nbytes() == 24);
  CHECK(t.dtype() == DType::f32);
  CHECK(t.device().is_cpu());
  CHECK(t.str() == "float32 [2, 3] cpu");
  Tensor v = t.view({3, 2});
  CHECK(v.shares_storage(t));
  v.data<float>()[0] = 10;
  CHECK(t.to_vector<float>()[0] == 10);
  Tensor r = t.rows(1, 2);
  CHECK(r.shape() == Shape{1, 3});
  CHECK(r.to_vector<float>() == std::vector<float>{4, 5, 6});
  Tensor c = t.clone();
  c.data<float>()[1] = -1;
  CHECK(t.to_vector<float>()[1] == 2);
  CHECK(Tensor::from_vector<int64_t>({7}, Shape()).item() == 7);
  CHECK(Shape().numel() == 1);
  CHECK(Shape{2, 0, 3}.numel() == 0);
  check_error([&] { t.view({4, 2}); }, {"[2, 3]", "[4, 2]"});
  check_error([&] { t.rows(1, 3); }, {"[1, 3)", "[2, 3]"});
  check_error([&] { t.item(); }, {"one element", "[2, 3]"});
  check_error([&] { Tensor::from_vector<float>({1, 2}, {3}); }, {"2 values", "[3]"});
  check_error([&] { Shape({1, 2, 3, 4, 5}); }, {"at most 4"});
  check_error([&] { Tensor().item(); }, {"undefined"});
}

TEST_CASE("item and item_async read one element of every dtype") {
  CHECK(Tensor::from_vector<float>({-1.5f}, Shape()).item() == -1.5);
  CHECK(Tensor::from_vector<double>({0.1}, {1}).item() == 0.1);
  CHECK(Tensor::from_vector<int32_t>({-7}, {1, 1}).item() == -7);
  CHECK(Tensor::from_vector<int64_t>({int64_t(1) << 40}, Shape()).item() == 1099511627776.0);
  CHECK(Tensor::from_vector<uint8_t>({200}, Shape()).item() == 200);
  const PendingItem a = Tensor::from_vector<float>({2.25f}, Shape()).item_async();
  const PendingItem b = Tensor::from_vector<int64_t>({-3}, {1}).item_async();
  CHECK(a.valid());
  CHECK(a.get() == 2.25);
  CHECK(b.get() == -3);
  // A CPU tensor's value is read when asked for, not when get() is called.
  Tensor t = Tensor::from_vector<double>({4}, Shape());
  const PendingItem c = t.item_async();
  t.data<double>()[0] = 5;
  CHECK(c.get() == 4);
  PendingItem none;
  CHECK_FALSE(none.valid());
  check_error([&] { none.get(); }, {"no value"});
  check_error(
      [&] {
        Tensor::from_vector<float>({1, 2}, {2}).item_async();
      },
      {"one element", "[2]"});
}

TEST_CASE("memory statistics count bytes in use and the peak") {
  const MemoryStats before = memory_stats(DeviceType::cpu);
  {
    Tensor big = Tensor::empty({1000, 250});  // 1e6 bytes
    const MemoryStats during = memory_stats(DeviceType::cpu);
    CHECK(during.bytes_in_use - before.bytes_in_use == 1000000);
    CHECK(during.peak_bytes >= during.bytes_in_use);
  }
  CHECK(memory_stats(DeviceType::cpu).bytes_in_use == before.bytes_in_use);
}

TEST_CASE("shapes whose element count overflows int64 are refused") {
  // Found by fuzzing: no elements, but numel() multiplies 2^32 * 2^31 before the 0.
  check_error(
      [] {
        Shape({int64_t(1) << 32, int64_t(1) << 31, 0});
      },
      {"[4294967296, 2147483648, 0]", "overflows int64"});
  check_error([] { Shape({int64_t(1) << 62, 2}); }, {"overflows int64"});
  CHECK(Shape({int64_t(1) << 62, 1}).numel() == int64_t(1) << 62);
  CHECK(Shape({0, int64_t(1) << 40, int64_t(1) << 40}).numel() == 0);  // 0 first: no overflow
}

TEST_CASE("JSON from files: bounded depth and checked getters naming file, key and value") {
  using nlohmann::json;
  check_error([] { parse_json(test::nested_json_array(100000), "deep.json"); },
              {"deep.json: JSON nested deeper than 64 levels"});
  CHECK(parse_json(test::nested_json_array(64), "ok.json").is_array());  // 64 levels
  check_error([] { parse_json(test::nested_json_array(65), "x.json"); }, {"deeper than 64"});
  check_error([] { parse_json(std::string("{\"a\": "), "torn.json"); },
              {"torn.json: not valid JSON"});
  const json j = parse_json(
      std::string(R"({"n": 3, "f": 3.7, "big": 1e300, "huge": 111111111111111124096,)"
                  R"( "u": 18446744073709551615, "neg": -2, "s": "x", "b": true, "a": [1, 2]})"),
      "c.json");
  CHECK(json_int(j, "n", "c.json") == 3);
  check_error([&] { json_int(j, "f", "c.json"); }, {"c.json: \"f\" must be an integer, got 3.7"});
  check_error([&] { json_int(j, "big", "c.json"); }, {"\"big\" must be an integer, got 1e+300"});
  check_error([&] { json_int(j, "huge", "c.json"); }, {"\"huge\"", "got 1.11111111111111"});
  check_error([&] { json_int(j, "u", "c.json"); },
              {"\"u\" must be a 64-bit integer, got 18446744073709551615"});
  check_error([&] { json_int(j, "neg", "c.json", 0, 10); },
              {"\"neg\" must be an integer in [0, 10], got -2"});
  CHECK(json_uint(j, "u", "c.json") == UINT64_MAX);
  check_error([&] { json_uint(j, "neg", "c.json"); }, {"non-negative integer, got -2"});
  check_error([&] { json_string(j, "n", "c.json:4"); },
              {"c.json:4: \"n\" must be a string, got 3"});
  check_error([&] { json_bool(j, "s", "c.json"); }, {"\"s\" must be true or false, got \"x\""});
  check_error([&] { json_double(j, "s", "c.json"); }, {"\"s\" must be a number"});
  check_error([&] { json_int(j, "missing", "c.json"); }, {"c.json: \"missing\" is missing"});
  CHECK(json_int_or(j, "missing", "c.json", 7) == 7);
  CHECK(json_string_or(j, "s", "c.json", "y") == "x");
  CHECK(json_int_array(j, "a", "c.json") == std::vector<int64_t>{1, 2});
  check_error([&] { json_int_array(j, "f", "c.json"); }, {"array of integers"});
  // Values in messages are cut short.
  CHECK(json_excerpt(json(std::string(1000, 'z'))).size() == 43);
}

TEST_CASE("files: read_lines reads regular files only (a pipe would wait for a writer)") {
  write_file_atomic("nidim_test_lines.txt", std::string("a\n\nb"));
  CHECK(read_lines("nidim_test_lines.txt") == std::vector<std::string>{"a", "", "b"});
  std::remove("nidim_test_lines.txt");
  {
    test::UnwrittenPipe pipe("nidim_test_fifo");
    check_error([] { read_lines("nidim_test_fifo"); }, {"nidim_test_fifo", "not a regular file"});
  }
  std::filesystem::create_directories("nidim_test_dir");
  check_error([] { read_lines("nidim_test_dir"); }, {"nidim_test_dir: is a directory"});
  std::filesystem::remove("nidim_test_dir");
}

TEST_CASE("files: atomic writes and errors naming the path") {
  const std::string path = "nidim_test_io.bin";
  write_file_atomic(path, std::string("hello"));
  const std::vector<uint8_t> back = read_file(path);
  CHECK(std::string(back.begin(), back.end()) == "hello");
  // A writer that fails leaves the previous file intact and no temporary behind.
  check_error(
      [&] {
        write_file_atomic(path, [](std::ostream& out) {
          out << "partial";
          throw Error("boom");
        });
      },
      {"boom"});
  const std::vector<uint8_t> still = read_file(path);
  CHECK(std::string(still.begin(), still.end()) == "hello");
  std::remove(path.c_str());
  check_error([&] { read_file("no/such/file.bin"); }, {"no/such/file.bin", "cannot open"});
}

TEST_CASE("run directories: fresh names, one process at a time, stale temporaries") {
  namespace fs = std::filesystem;
  const std::string base = "nidim_test_dirs/run";
  fs::remove_all("nidim_test_dirs");
  check_error([&] { read_file("."); }, {".: is a directory"});
  // claim_new_directory: the base, then base-2, base-3 (parents made as needed).
  CHECK(claim_new_directory(base) == base);
  CHECK(claim_new_directory(base) == base + "-2");
  CHECK(claim_new_directory(base) == base + "-3");
  CHECK(fs::is_directory(base + "-3"));
  // Threads racing for one name each get their own.
  std::vector<std::string> got(8);
  std::vector<std::thread> racers;
  for (size_t i = 0; i < got.size(); ++i)
    racers.emplace_back([&, i] { got[i] = claim_new_directory("nidim_test_dirs/race"); });
  for (std::thread& t : racers) t.join();
  std::sort(got.begin(), got.end());
  CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());
  // A second lock on a held directory fails (flock: even from this process); released, it works.
  {
    DirectoryLock held(base);
    check_error([&] { DirectoryLock second(base); }, {base, "in use by another process"});
  }
  DirectoryLock again(base);
  // Temporaries of dead writers go; a live writer's (this process) and other names stay.
  const std::string me = std::to_string(::getpid());
  pid_t dead = ::fork();
  if (dead == 0) _exit(0);
  REQUIRE(dead > 0);
  ::waitpid(dead, nullptr, 0);
  const std::vector<std::string> names = {"log.jsonl.tmp." + std::to_string(dead),
                                          "log.jsonl.tmp." + me, "notes.tmp.txt", "x.tmp."};
  for (const std::string& n : names) std::ofstream(base + "/" + n) << "x";
  CHECK(remove_stale_temporaries(base) == 1);
  CHECK_FALSE(fs::exists(base + "/" + names[0]));
  for (size_t i = 1; i < names.size(); ++i) CHECK(fs::exists(base + "/" + names[i]));
  fs::remove_all("nidim_test_dirs");
}

TEST_CASE("files: numbered names and links that replace a file") {
  CHECK(numbered_name("epoch_12", "epoch_") == 12);
  CHECK(numbered_name("epoch_0", "epoch_") == 0);
  for (const char* other : {"", "tmp", "epoch_", "epoch_1x", "epoch_-3", "Epoch_3", "x_epoch_3",
                            "epoch_1234567890123456789", "epoch_01", "epoch_00"})
    CHECK_MESSAGE(numbered_name(other, "epoch_") == -1, other);
  const std::string dir = "nidim_test_links";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/a", "new");
  write_file_atomic(dir + "/b", "old");
  REQUIRE(replace_with_link(dir + "/a", dir + "/b"));
  CHECK(std::filesystem::equivalent(dir + "/a", dir + "/b"));
  const std::vector<uint8_t> b = read_file(dir + "/b");
  CHECK(std::string(b.begin(), b.end()) == "new");
  CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 2);  // no temporary left
  check_error([&] { replace_with_link(dir + "/missing", dir + "/c"); }, {dir + "/c", "missing"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("devices") {
  CHECK(parse_device("cpu").is_cpu());
  CHECK(parse_device("cuda:1").index == 1);
  check_error([&] { parse_device("gpu"); }, {"gpu", "cpu, cuda or cuda:N"});
  if (cuda_device_count() == 0)
    MESSAGE("no CUDA device: CUDA tensors are not exercised here (CUDA compiled: "
            << cuda_compiled() << ")");
}

TEST_CASE("flushing denormals to zero, and threads inheriting it") {
  volatile float tiny = 1e-40f;  // a float32 denormal (the smallest normal is 1.2e-38)
  const bool before = set_flush_denormals(true);
  CHECK(flush_denormals());
  volatile float half = tiny * 0.5f;
  CHECK(half == 0.0f);  // denormals-are-zero: the operand reads as 0
  bool in_thread = false;
  std::thread t([&] { in_thread = flush_denormals(); });
  t.join();
  CHECK(in_thread);
  set_flush_denormals(false);
  volatile float half2 = tiny * 0.5f;
  CHECK(half2 > 0.0f);
  set_flush_denormals(before);
}

TEST_CASE("the thread pool runs every part of every job exactly once when job sizes alternate") {
  // Regression: jobs of 2 parts and of 8 parts, alternating, on 8 threads. A worker that sat out
  // a job used to read the next job's part count with the old generation and run its part twice;
  // the count of parts left then never reached zero and the caller waited forever (core/parallel.cpp).
  // It hung within 10000 jobs on 2 cores; a watchdog turns a hang into a failure.
  const int saved = num_threads();
  set_num_threads(8);
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!cv.wait_for(lock, std::chrono::seconds(120), [&] { return finished; })) {
      std::fprintf(stderr, "thread pool test: no progress in 120 s (a job never finished)\n");
      std::fflush(stderr);
      std::abort();
    }
  });
  std::vector<std::atomic<int>> hits(8);
  int64_t wrong = 0;
  for (int j = 0; j < 30000; ++j) {
    const int64_t n = j % 3 == 0 ? 8 : 2;
    for (int64_t i = 0; i < n; ++i) hits[i].store(0);
    parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) wrong += hits[i].load() != 1;
  }
  {
    std::lock_guard<std::mutex> lock(m);
    finished = true;
  }
  cv.notify_one();
  watchdog.join();
  set_num_threads(saved);
  CHECK(wrong == 0);
}
