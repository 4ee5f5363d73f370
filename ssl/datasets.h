// nidim/ssl/datasets.h: the data sets train_dim trains on, by name.
//
//   mnist          data/mnist, or $NIDIM_DATA_DIR/mnist when set (scripts/get_data), or --data-dir
//   fashion-mnist  /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist) or --data-dir
//   cifar10        --data-dir: the cifar-10-batches-bin folder of the binary version
//   cifar100       --data-dir: the cifar-100-binary folder of the binary version; fine labels
//                  (100 classes)
//   synthetic      made here, seeded: 1x8x8 images of a Gaussian blob of random brightness whose
//                  centre lies near the centre of one quadrant (the class), plus pixel noise.
//                  The positions form four separate clusters, so an untrained encoder gives a
//                  clearly non-Gaussian embedding, while their continuous spread lets training
//                  make it Gaussian: the tests' data set (and it needs no download).
#pragma once

#include <string>
#include <utility>

#include "data/dataset.h"

namespace nidim {

struct DatasetRequest {
  std::string name = "mnist";
  std::string dir;          // empty: the default place of that data set
  int64_t limit_train = 0;  // > 0: only the first n training samples
  int64_t limit_test = 0;
  uint64_t synthetic_seed = 0;
  int64_t synthetic_train = 4096, synthetic_test = 1024;
};

// The folder `request` reads, as an absolute path (its default if `dir` is empty; "" for the
// synthetic set), so that a run's config.json names it whatever the working directory.
std::string resolved_data_dir(const DatasetRequest& request);

// (train, test); errors name the data set, the folder and what to run to get it.
std::pair<ImageDataset, ImageDataset> load_datasets(const DatasetRequest& request);

ImageDataset synthetic_quadrants(int64_t n, uint64_t seed);

}  // namespace nidim
