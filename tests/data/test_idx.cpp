// nidim/tests/data/test_idx.cpp: IDX images and labels, plain and gzipped, built byte by byte
// here from the format's layout (big-endian magic and sizes, then the elements), and the
// MNIST-style datasets made from them; every corruption is a one-line error naming the file.
#include "data/dataset.h"
#include "data/idx.h"
#include "helpers.h"

using namespace nidim;
using namespace nidim_test;

namespace {

uint8_t pix(uint32_t i, uint32_t r, uint32_t c) {
  return static_cast<uint8_t>(i * 7 + r * 31 + c * 3 + 200);
}

const std::vector<uint8_t> small_labels = {3, 1, 4, 1, 5};

void check_small_images(const IdxImages& im) {
  CHECK(im.count == 5);
  CHECK(im.rows == 3);
  CHECK(im.cols == 4);
  REQUIRE(im.pixels.size() == 5 * 3 * 4);
  for (uint32_t i = 0; i < 5; ++i)
    for (uint32_t r = 0; r < 3; ++r)
      for (uint32_t c = 0; c < 4; ++c) CHECK(im.pixels[(i * 3 + r) * 4 + c] == pix(i, r, c));
}

std::string expect_error(const std::string& path, const std::string& part, bool images = true) {
  const std::string msg = error_of([&] {
    if (images)
      read_idx_images(path);
    else
      read_idx_labels(path);
  });
  CHECK(contains(msg, path));
  CHECK(contains(msg, part));
  CHECK(one_line(msg));
  return msg;
}

}  // namespace

TEST_CASE("idx: plain and gzipped image and label files read back their bytes") {
  const auto images = idx_images_bytes(5, 3, 4, pix);
  const auto labels = idx_labels_bytes(small_labels);
  write_bytes(scratch("im.idx"), images);
  write_bytes(scratch("im.idx.gz"), gzip_bytes(images));
  write_bytes(scratch("lb.idx"), labels);
  write_bytes(scratch("lb.idx.gz"), gzip_bytes(labels, 9));
  // gzip is recognized by content: a gzipped file without the .gz name reads too.
  write_bytes(scratch("im_gz_noext"), gzip_bytes(images, 1));

  check_small_images(read_idx_images(scratch("im.idx")));
  check_small_images(read_idx_images(scratch("im.idx.gz")));
  check_small_images(read_idx_images(scratch("im_gz_noext")));
  CHECK(read_idx_labels(scratch("lb.idx")) == small_labels);
  CHECK(read_idx_labels(scratch("lb.idx.gz")) == small_labels);

  // Zero images is a valid (empty) file.
  write_bytes(scratch("empty.idx"), idx_images_bytes(0, 28, 28, pix));
  CHECK(read_idx_images(scratch("empty.idx")).count == 0);
}

TEST_CASE("idx: gunzip handles concatenated members, refuses garbage, caps the output") {
  const std::vector<uint8_t> a = {1, 2, 3}, b = {4, 5};
  auto ga = gzip_bytes(a), gb = gzip_bytes(b);
  std::vector<uint8_t> both = ga;
  both.insert(both.end(), gb.begin(), gb.end());
  CHECK(gunzip(both.data(), both.size(), "both") == std::vector<uint8_t>{1, 2, 3, 4, 5});

  std::vector<uint8_t> padded = ga;
  padded.insert(padded.end(), 8, 0);  // zero padding after the member, as tape tools leave
  CHECK(gunzip(padded.data(), padded.size(), "padded") == a);

  std::vector<uint8_t> junk = ga;
  junk.push_back('x');
  CHECK(contains(error_of([&] { gunzip(junk.data(), junk.size(), "junk"); }),
                 "junk: 1 bytes of garbage"));

  // A stream that inflates to 100000 bytes is refused under a 1000-byte cap (zip bombs).
  const std::vector<uint8_t> zeros(100000, 0);
  const auto gz = gzip_bytes(zeros);
  CHECK(gunzip(gz.data(), gz.size(), "z").size() == 100000);
  CHECK(contains(error_of([&] { gunzip(gz.data(), gz.size(), "z", 1000); }),
                 "z: inflates to more than 1000 bytes"));
}

TEST_CASE("idx: wrong magic, truncation, trailing bytes and bad sizes are one-line errors") {
  const auto images = idx_images_bytes(5, 3, 4, pix);
  const auto labels = idx_labels_bytes(small_labels);

  // A label file where images are expected, and the reverse.
  write_bytes(scratch("labels_as_images.idx"), labels);
  expect_error(scratch("labels_as_images.idx"),
               "magic number 2049, expected 2051 (an IDX image file)");
  write_bytes(scratch("images_as_labels.idx"), images);
  expect_error(scratch("images_as_labels.idx"),
               "magic number 2051, expected 2049 (an IDX label file)", false);
  // int32 elements (type 0x0C) are not images.
  write_bytes(scratch("int_idx.idx"), idx_images_bytes(5, 3, 4, pix, 0x0C03));
  expect_error(scratch("int_idx.idx"), "magic number 3075, expected 2051");

  // Every truncation of both files fails cleanly (and under ASan, reads nothing past the end).
  for (size_t n = 0; n < images.size(); ++n) {
    const std::string p = scratch("trunc_im.idx");
    write_bytes(p, std::vector<uint8_t>(images.begin(), images.begin() + static_cast<long>(n)));
    CAPTURE(n);
    expect_error(p, "truncated");
  }
  for (size_t n = 0; n < labels.size(); ++n) {
    const std::string p = scratch("trunc_lb.idx");
    write_bytes(p, std::vector<uint8_t>(labels.begin(), labels.begin() + static_cast<long>(n)));
    CAPTURE(n);
    expect_error(p, "truncated", false);
  }
  {
    const std::string p = scratch("trunc_im_hdr.idx");
    write_bytes(p, std::vector<uint8_t>(images.begin(), images.end() - 5));
    expect_error(p,
                 "announces 5 images of 3x4, the file holds 55 bytes of pixels (4 whole images)");
  }
  {
    auto b = images;
    b.push_back(9);
    write_bytes(scratch("trailing.idx"), b);
    expect_error(scratch("trailing.idx"), "1 unexpected bytes after 5 images of 3x4");
  }
  write_bytes(scratch("zero_rows.idx"), idx_images_bytes(5, 0, 4, pix));
  expect_error(scratch("zero_rows.idx"), "images of 0x4 pixels");
  // Sizes whose product overflows 64 bits must not wrap around into "fits".
  {
    std::vector<uint8_t> b;
    put_be32(b, 2051);
    put_be32(b, 0xFFFFFFFFu);
    put_be32(b, 0xFFFFFFFFu);
    put_be32(b, 0xFFFFFFFFu);
    b.push_back(1);
    write_bytes(scratch("huge.idx"), b);
    expect_error(scratch("huge.idx"), "truncated");
  }

  // A gzip stream cut short, and one with a flipped byte in the middle.
  const auto gz = gzip_bytes(images);
  write_bytes(scratch("cut.gz"), std::vector<uint8_t>(gz.begin(), gz.end() - 10));
  expect_error(scratch("cut.gz"), "truncated gzip data");
  write_bytes(scratch("cut_early.gz"), std::vector<uint8_t>(gz.begin(), gz.begin() + 12));
  expect_error(scratch("cut_early.gz"), "truncated gzip data");
  auto bad = gz;
  bad[bad.size() - 6] ^= 0xFF;  // inside the CRC32/size trailer
  write_bytes(scratch("crc.gz"), bad);
  expect_error(scratch("crc.gz"), "corrupt gzip data");

  expect_error(scratch("does_not_exist.idx"), "cannot open");
}

TEST_CASE("idx: datasets scale pixels to [0, 1] and check counts and label range") {
  write_bytes(scratch("train-images-idx3-ubyte.gz"), gzip_bytes(idx_images_bytes(5, 3, 4, pix)));
  write_bytes(scratch("train-labels-idx1-ubyte"), idx_labels_bytes(small_labels));  // plain
  const ImageDataset ds = load_mnist(scratch_dir(), Split::train);
  CHECK(ds.size() == 5);
  CHECK(ds.channels() == 1);
  CHECK(ds.height() == 3);
  CHECK(ds.width() == 4);
  CHECK(ds.num_classes() == 10);
  std::vector<float> img(12);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK(ds.label(i) == small_labels[i]);
    ds.copy_scaled(i, img.data());
    // x · (1/255) in float is within one float ulp of x / 255 (<= 6e-8 below 1).
    for (uint32_t r = 0; r < 3; ++r)
      for (uint32_t c = 0; c < 4; ++c)
        CHECK(img[r * 4 + c] ==
              doctest::Approx(pix(static_cast<uint32_t>(i), r, c) / 255.0).epsilon(1e-7));
  }
  auto [x, y] = ds.get(2);
  CHECK(x.shape() == Shape{1, 3, 4});
  CHECK(y.ndim() == 0);
  CHECK(y.to_vector<int32_t>()[0] == 4);

  // Normalization (x - mean) / std after scaling.
  ImageDataset norm = ds;
  norm.set_normalization({0.5f}, {0.25f});
  auto [xn, yn] = norm.get(1);
  const auto v = xn.to_vector<float>();
  for (uint32_t k = 0; k < 12; ++k)
    CHECK(v[k] == doctest::Approx((pix(1, k / 4, k % 4) / 255.0 - 0.5) / 0.25).epsilon(1e-6));

  // channel_stats: mean and std over all pixels, against sums done here in double.
  double s = 0, s2 = 0;
  for (uint32_t i = 0; i < 5; ++i)
    for (uint32_t k = 0; k < 12; ++k) {
      const double p = pix(i, k / 4, k % 4) / 255.0;
      s += p;
      s2 += p * p;
    }
  const double m = s / 60, sd = std::sqrt(s2 / 60 - m * m);
  auto [mean, stdev] = ds.channel_stats();
  CHECK(mean[0] == doctest::Approx(m).epsilon(1e-6));
  CHECK(stdev[0] == doctest::Approx(sd).epsilon(1e-5));
}

TEST_CASE("idx: dataset errors name the files (counts disagree, label out of range, missing)") {
  write_bytes(scratch("a-images"), idx_images_bytes(5, 3, 4, pix));
  write_bytes(scratch("a-labels4"), idx_labels_bytes({1, 2, 3, 4}));
  std::string msg =
      error_of([&] { dataset_from_idx("a", scratch("a-images"), scratch("a-labels4")); });
  CHECK(contains(
      msg, scratch("a-labels4") + ": 4 labels, but " + scratch("a-images") + " has 5 images"));
  CHECK(one_line(msg));

  write_bytes(scratch("a-labels-bad"), idx_labels_bytes({1, 2, 10, 4, 5}));
  msg = error_of([&] { dataset_from_idx("a", scratch("a-images"), scratch("a-labels-bad")); });
  CHECK(contains(msg, scratch("a-labels-bad") + ": label 10 at index 2 outside the classes 0..9"));

  msg = error_of([&] { load_mnist(scratch_dir() + "/nowhere", Split::test); });
  CHECK(contains(msg, "t10k-images-idx3-ubyte.gz: missing file"));
  CHECK(contains(msg, "scripts/get_data"));
  CHECK(one_line(msg));

  ImageDataset ds("tiny", std::vector<uint8_t>(12), {0}, 1, 3, 4, 10);
  CHECK(contains(error_of([&] { ds.set_normalization({0.5f}, {0.0f}); }), "not positive"));
  CHECK(contains(error_of([&] {
                   ds.set_normalization({0.5f, 0.5f}, {1.f, 1.f});
                 }),
                 "needs 1 means"));
  CHECK(contains(error_of([&] { ds.label(1); }), "sample 1 out of range"));
  CHECK(
      contains(error_of([&] { ImageDataset("neg", std::vector<uint8_t>(12), {-1}, 1, 3, 4, 10); }),
               "label -1 of sample 0"));
}
