// nidim/tests/data/test_cifar.cpp: CIFAR-10 and CIFAR-100 binary files built here record by
// record from the format's layout (label byte(s), then 1024 red, 1024 green, 1024 blue bytes),
// read back as [N, 3, 32, 32] images with int32 labels; bad files are one-line errors.
#include <filesystem>

#include "data/cifar.h"
#include "data/dataset.h"
#include "helpers.h"

using namespace nidim;
using namespace nidim_test;

namespace {

// Pixel value of record `i` of file `f` at channel c, row y, column x.
uint8_t cpix(int f, int i, int c, int y, int x) {
  return static_cast<uint8_t>(f * 50 + i * 13 + c * 85 + y * 7 + x);
}

std::vector<uint8_t> cifar_bytes(int f, const std::vector<std::vector<uint8_t>>& label_bytes) {
  std::vector<uint8_t> b;
  for (size_t i = 0; i < label_bytes.size(); ++i) {
    b.insert(b.end(), label_bytes[i].begin(), label_bytes[i].end());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(cpix(f, static_cast<int>(i), c, y, x));
  }
  return b;
}

std::string make_dir(const std::string& name) {
  const std::string d = scratch(name);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("cifar: CIFAR-10 batches concatenate in order, channel-major pixels, int32 labels") {
  const std::string dir = make_dir("cifar-10-batches-bin");
  for (int f = 1; f <= 5; ++f)
    write_bytes(dir + "/data_batch_" + std::to_string(f) + ".bin",
                cifar_bytes(f, {{static_cast<uint8_t>(f)}, {static_cast<uint8_t>(9 - f)}}));
  write_bytes(dir + "/test_batch.bin", cifar_bytes(0, {{0}, {9}, {5}}));

  const ImageDataset train = load_cifar10(dir, Split::train);
  CHECK(train.size() == 10);
  CHECK(train.channels() == 3);
  CHECK(train.height() == 32);
  CHECK(train.width() == 32);
  CHECK(train.num_classes() == 10);
  for (int f = 1; f <= 5; ++f)
    for (int i = 0; i < 2; ++i) {
      const int64_t s = (f - 1) * 2 + i;
      CHECK(train.label(s) == (i == 0 ? f : 9 - f));
      const uint8_t* p = train.pixels(s);
      // [3, 32, 32]: channel c, row y, column x at (c * 32 + y) * 32 + x.
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 32; y += 5)
          for (int x = 0; x < 32; x += 3) CHECK(p[(c * 32 + y) * 32 + x] == cpix(f, i, c, y, x));
    }
  const ImageDataset test = load_cifar10(dir, Split::test);
  CHECK(test.size() == 3);
  CHECK(test.labels() == std::vector<int32_t>{0, 9, 5});
  auto [img, label] = test.get(1);
  CHECK(img.shape() == Shape{3, 32, 32});
  CHECK(img.to_vector<float>()[1024 + 32 + 2] ==
        doctest::Approx(cpix(0, 1, 1, 1, 2) / 255.0).epsilon(1e-7));
}

TEST_CASE("cifar: CIFAR-100 fine and coarse labels") {
  const std::string dir = make_dir("cifar-100-binary");
  write_bytes(dir + "/train.bin", cifar_bytes(2, {{19, 99}, {0, 0}, {7, 42}}));
  write_bytes(dir + "/test.bin", cifar_bytes(3, {{4, 30}}));
  const ImageDataset fine = load_cifar100(dir, Split::train);
  CHECK(fine.num_classes() == 100);
  CHECK(fine.labels() == std::vector<int32_t>{99, 0, 42});
  const ImageDataset coarse = load_cifar100(dir, Split::train, true);
  CHECK(coarse.num_classes() == 20);
  CHECK(coarse.labels() == std::vector<int32_t>{19, 0, 7});
  CHECK(coarse.pixels(2)[2 * 1024 + 31 * 32 + 31] == cpix(2, 2, 2, 31, 31));
  CifarRecords r;
  read_cifar100_file(dir + "/test.bin", r);
  CHECK(r.count == 1);
  CHECK(r.labels == std::vector<int32_t>{30});
  CHECK(r.coarse_labels == std::vector<int32_t>{4});
}

TEST_CASE("cifar: truncated files, labels out of range and missing files are one-line errors") {
  auto expect = [](const std::string& path, bool hundred, const std::string& part) {
    CifarRecords r;
    const std::string msg = error_of([&] {
      if (hundred)
        read_cifar100_file(path, r);
      else
        read_cifar10_file(path, r);
    });
    CHECK(contains(msg, path));
    CHECK(contains(msg, part));
    CHECK(one_line(msg));
    CHECK(r.count == 0);  // a failed read leaves the records untouched
    CHECK(r.images.empty());
  };
  const auto good10 = cifar_bytes(0, {{1}, {2}});
  write_bytes(scratch("c10_trunc.bin"), std::vector<uint8_t>(good10.begin(), good10.end() - 1));
  expect(scratch("c10_trunc.bin"), false,
         "6145 bytes is not a whole number of 3073-byte CIFAR-10 records (1 whole, 3072 bytes left "
         "over");
  write_bytes(scratch("c10_empty.bin"), {});
  expect(scratch("c10_empty.bin"), false, "empty file");
  write_bytes(scratch("c10_label.bin"), cifar_bytes(0, {{1}, {10}}));
  expect(scratch("c10_label.bin"), false, "record 1: label 10 outside the CIFAR-10 classes 0..9");
  // A CIFAR-100 file read as CIFAR-10 is caught by its size (3074-byte records).
  write_bytes(scratch("c100_as_10.bin"), cifar_bytes(0, {{1, 1}, {2, 2}, {3, 3}}));
  expect(scratch("c100_as_10.bin"), false, "not a whole number of 3073-byte");
  write_bytes(scratch("c100_fine.bin"), cifar_bytes(0, {{1, 1}, {2, 100}}));
  expect(scratch("c100_fine.bin"), true,
         "record 1: fine label 100 outside the CIFAR-100 classes 0..99");
  write_bytes(scratch("c100_coarse.bin"), cifar_bytes(0, {{20, 1}}));
  expect(scratch("c100_coarse.bin"), true,
         "record 0: coarse label 20 outside the CIFAR-100 superclasses 0..19");
  expect(scratch("c10_missing.bin"), false, "cannot open");

  const std::string empty_dir = make_dir("no-cifar-here");
  const std::string msg = error_of([&] { load_cifar10(empty_dir, Split::train); });
  CHECK(contains(msg, empty_dir + "/data_batch_1.bin: missing file"));
  CHECK(contains(error_of([&] { load_cifar100(empty_dir, Split::test); }),
                 empty_dir + "/test.bin: missing file"));
}
