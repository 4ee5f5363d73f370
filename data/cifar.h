// nidim/data/cifar.h: the binary versions of CIFAR-10 and CIFAR-100.
//
// Layout (Krizhevsky's CIFAR page, "binary version"): fixed-size records with no header.
//   CIFAR-10:  <1 byte label 0..9> <3072 bytes of pixels>                      (3073 bytes)
//   CIFAR-100: <1 byte coarse 0..19> <1 byte fine 0..99> <3072 bytes of pixels> (3074 bytes)
// The pixels are channel-major: 1024 red, 1024 green, 1024 blue bytes, each a 32×32 image in
// row-major order, i.e. exactly a [3, 32, 32] uint8 array. Files: cifar-10-batches-bin/
// data_batch_1.bin ... data_batch_5.bin (10000 records each) and test_batch.bin;
// cifar-100-binary/train.bin (50000) and test.bin (10000). A size that is not a whole number of
// records and a label outside its range are errors naming the file (and the record).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nidim {

constexpr int64_t cifar_channels = 3, cifar_height = 32, cifar_width = 32;
constexpr int64_t cifar_image_bytes = cifar_channels * cifar_height * cifar_width;  // 3072

struct CifarRecords {
  int64_t count = 0;
  std::vector<uint8_t> images;         // [count, 3, 32, 32]
  std::vector<int32_t> labels;         // [count]: CIFAR-10 classes, CIFAR-100 fine classes
  std::vector<int32_t> coarse_labels;  // [count] for CIFAR-100 (20 superclasses); empty for 10
};

// Reads one file, appending to `out` (so the five CIFAR-10 training batches concatenate).
void read_cifar10_file(const std::string& path, CifarRecords& out);
void read_cifar100_file(const std::string& path, CifarRecords& out);

// The same from bytes in memory; `name` is used in error messages.
void parse_cifar10(const uint8_t* bytes, size_t size, const std::string& name, CifarRecords& out);
void parse_cifar100(const uint8_t* bytes, size_t size, const std::string& name, CifarRecords& out);

}  // namespace nidim
