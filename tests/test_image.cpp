// Image decoding (PNG and JPEG written here by libpng's and libjpeg's encoders, EXIF orientation, broken
// and hostile files) and bicubic resizing.
#include "graph/base/error.h"
#include "graph/base/random_fill.h"
#include "host/image/image.h"
#include "host/image/image_codecs.h"
#include "tests/image_encode.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>

#include <jpeglib.h>  // after <cstdio>: it needs FILE

namespace bluecl {
namespace {

using testing::data_path;
using testing::encode_jpeg;
using testing::encode_png;
using testing::PngSpec;
using testing::read_bytes;
using testing::read_text;

uint8_t composite(unsigned v, unsigned a) {
  return uint8_t(std::lround(v * a / 255.0));
}
uint8_t scale16(unsigned v) {
  return uint8_t(std::lround(v * 255.0 / 65535.0));
}

Status status_of(const std::function<void()>& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.status();
  }
  return Status::Ok;
}

Status decode_status(const std::vector<uint8_t>& bytes, std::string* msg = nullptr) {
  return status_of([&] { decode_image_memory(bytes.data(), bytes.size()); }, msg);
}

// --- PNG ---------------------------------------------------------------------------------------------

TEST(ImagePng, Rgb8AndInterlacedAreExact) {
  for (bool interlaced : {false, true}) {
    PngSpec s{37, 23, 8, 2, interlaced, random_bytes(37 * 23 * 3, 1), {}, {}};
    const std::vector<uint8_t> png = encode_png(s);
    const Image img = decode_image_memory(png.data(), png.size());
    ASSERT_EQ(img.width, 37);
    ASSERT_EQ(img.height, 23);
    EXPECT_EQ(img.rgb, s.rows) << "interlaced " << interlaced;
  }
}

TEST(ImagePng, Rgb16IsScaledWithRounding) {
  PngSpec s{19, 7, 16, 2, false, random_bytes(19 * 7 * 6, 2), {}, {}};
  const std::vector<uint8_t> png = encode_png(s);
  const Image img = decode_image_memory(png.data(), png.size());
  ASSERT_EQ(img.rgb.size(), size_t(19 * 7 * 3));
  for (size_t i = 0; i < img.rgb.size(); ++i) {
    ASSERT_EQ(img.rgb[i], scale16(s.rows[2 * i] << 8 | s.rows[2 * i + 1])) << "sample " << i;
  }
}

TEST(ImagePng, GreyAndLowBitGreyExpandToRgb) {
  PngSpec s{21, 9, 8, 0, false, random_bytes(21 * 9, 3), {}, {}};
  std::vector<uint8_t> png = encode_png(s);
  Image img = decode_image_memory(png.data(), png.size());
  for (size_t i = 0; i < s.rows.size(); ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(img.rgb[3 * i + c], s.rows[i]);
  }
  // 2-bit grey: levels 0..3 map to 0, 85, 170, 255. Four pixels per byte, rows padded to a byte.
  PngSpec g2{6, 2, 2, 0, false, {0b00011011, 0b11000000, 0b11100100, 0b01000000}, {}, {}};
  png = encode_png(g2);
  img = decode_image_memory(png.data(), png.size());
  const uint8_t expect[12] = {0, 85, 170, 255, 255, 0, 255, 170, 85, 0, 85, 0};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(img.rgb[3 * i + 1], expect[i]) << "pixel " << i;
}

TEST(ImagePng, GreyAlphaCompositesOnBlack) {
  PngSpec s{13, 11, 8, 4, false, random_bytes(13 * 11 * 2, 4), {}, {}};
  const std::vector<uint8_t> png = encode_png(s);
  const Image img = decode_image_memory(png.data(), png.size());
  for (size_t i = 0; i < size_t(13 * 11); ++i) {
    const uint8_t v = composite(s.rows[2 * i], s.rows[2 * i + 1]);
    for (int c = 0; c < 3; ++c) ASSERT_EQ(img.rgb[3 * i + c], v) << "pixel " << i;
  }
}

TEST(ImagePng, PaletteWithTransparency) {
  std::vector<uint8_t> palette = random_bytes(3 * 16, 5);
  std::vector<uint8_t> trns = {0, 255, 128, 1, 77, 200};  // entries 6..15 stay opaque
  std::vector<uint8_t> idx = random_bytes(10 * 6, 6);
  for (auto& i : idx) i %= 16;
  PngSpec s{10, 6, 8, 3, false, idx, palette, trns};
  const std::vector<uint8_t> png = encode_png(s);
  const Image img = decode_image_memory(png.data(), png.size());
  for (size_t p = 0; p < idx.size(); ++p) {
    const unsigned a = idx[p] < trns.size() ? trns[idx[p]] : 255;
    for (int c = 0; c < 3; ++c) ASSERT_EQ(img.rgb[3 * p + c], composite(palette[3 * idx[p] + c], a));
  }
}

TEST(ImagePng, RgbaPartialAlpha8And16) {
  PngSpec s{17, 5, 8, 6, false, random_bytes(17 * 5 * 4, 7), {}, {}};
  s.rows[3] = 0;  // fully transparent -> black
  s.rows[7] = 255;
  std::vector<uint8_t> png = encode_png(s);
  Image img = decode_image_memory(png.data(), png.size());
  for (size_t i = 0; i < size_t(17 * 5); ++i) {
    for (int c = 0; c < 3; ++c)
      ASSERT_EQ(img.rgb[3 * i + c], composite(s.rows[4 * i + c], s.rows[4 * i + 3]));
  }
  EXPECT_EQ(img.rgb[0], 0);
  EXPECT_EQ(img.rgb[3], s.rows[4]);

  PngSpec s16{9, 4, 16, 6, false, random_bytes(9 * 4 * 8, 8), {}, {}};
  png = encode_png(s16);
  img = decode_image_memory(png.data(), png.size());
  auto sample = [&](size_t i) { return scale16(s16.rows[2 * i] << 8 | s16.rows[2 * i + 1]); };
  for (size_t i = 0; i < size_t(9 * 4); ++i) {
    for (int c = 0; c < 3; ++c)
      ASSERT_EQ(img.rgb[3 * i + c], composite(sample(4 * i + c), sample(4 * i + 3)));
  }
}

TEST(ImagePng, BrokenFilesAreBadFile) {
  PngSpec s{40, 30, 8, 2, false, random_bytes(40 * 30 * 3, 9), {}, {}};
  const std::vector<uint8_t> good = encode_png(s);
  ASSERT_EQ(decode_status(good), Status::Ok);

  std::string msg;
  EXPECT_EQ(decode_status({good.begin(), good.begin() + good.size() / 2}, &msg), Status::BadFile);
  EXPECT_NE(msg.find("in memory"), std::string::npos) << msg;
  EXPECT_EQ(decode_status({good.begin(), good.begin() + 20}), Status::BadFile);  // inside IHDR
  EXPECT_EQ(decode_status({good.begin(), good.begin() + 3}), Status::BadFile);   // inside the signature

  const size_t idat = testing::find_png_chunk(good, "IDAT");
  ASSERT_NE(idat, std::string::npos);
  const size_t idat_len =
      size_t(good[idat]) << 24 | good[idat + 1] << 16 | good[idat + 2] << 8 | good[idat + 3];
  std::vector<uint8_t> bad_crc = good;
  bad_crc[idat + 8 + idat_len] ^= 0x01;  // the data is intact, only its CRC is wrong
  EXPECT_EQ(decode_status(bad_crc, &msg), Status::BadFile);
  EXPECT_NE(msg.find("CRC"), std::string::npos) << msg;
  std::vector<uint8_t> bad_data = good;
  bad_data[idat + 8 + 100] ^= 0x40;  // a stored pixel byte changed, CRC left as it was
  EXPECT_EQ(decode_status(bad_data), Status::BadFile);

  std::vector<uint8_t> bad_zlib = good;
  bad_zlib[idat + 8] = 0x00;  // an impossible zlib header, with a correct CRC
  bad_zlib[idat + 9] = 0x00;
  testing::fix_png_crc(bad_zlib, idat);
  EXPECT_EQ(decode_status(bad_zlib), Status::BadFile);

  std::vector<uint8_t> zero = good;  // width 0 in IHDR, CRC fixed
  std::fill(zero.begin() + 16, zero.begin() + 20, 0);
  testing::fix_png_crc(zero, 8);
  EXPECT_EQ(decode_status(zero), Status::BadFile);
}

TEST(ImagePng, HugeHeaderIsRefusedBeforeAllocating) {
  // A valid PNG whose IHDR claims 100000 x 100000 (30 GB of RGB) with a tiny IDAT.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0};
  for (const auto& chunk : {testing::png_chunk("IHDR", ihdr),
                            testing::png_chunk("IDAT", {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}),
                            testing::png_chunk("IEND", {})}) {
    png.insert(png.end(), chunk.begin(), chunk.end());
  }
  std::string msg;
  EXPECT_EQ(decode_status(png, &msg), Status::Unsupported);
  EXPECT_NE(msg.find("100000x100000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("64 megapixels"), std::string::npos) << msg;
}

// --- JPEG --------------------------------------------------------------------------------------------

// A w x h image of four flat quadrants: red, green / blue, white.
std::vector<uint8_t> quadrants(int w, int h) {
  std::vector<uint8_t> v(size_t(w) * h * 3);
  const uint8_t colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* c = colours[(y >= h / 2) * 2 + (x >= w / 2)];
      std::copy(c, c + 3, &v[(size_t(y) * w + x) * 3]);
    }
  }
  return v;
}

void expect_near_colour(const Image& img, int x, int y, std::array<int, 3> rgb, const char* what) {
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(img.pixel(x, y)[c], rgb[c], 12) << what << " at (" << x << ", " << y << ") channel " << c;
  }
}

constexpr std::array<int, 3> kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255}, kWhite{255, 255, 255};

TEST(ImageJpeg, RgbAndGrey) {
  const std::vector<uint8_t> jpg = encode_jpeg(quadrants(64, 48), 64, 48, 3, JCS_RGB);
  const Image img = decode_image_memory(jpg.data(), jpg.size());
  ASSERT_EQ(img.width, 64);
  ASSERT_EQ(img.height, 48);
  expect_near_colour(img, 16, 12, kRed, "top-left");
  expect_near_colour(img, 48, 12, kGreen, "top-right");
  expect_near_colour(img, 16, 36, kBlue, "bottom-left");
  expect_near_colour(img, 48, 36, kWhite, "bottom-right");

  std::vector<uint8_t> grey(40 * 24);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 40; ++x) grey[y * 40 + x] = uint8_t(x * 6);
  const std::vector<uint8_t> gj = encode_jpeg(grey, 40, 24, 1, JCS_GRAYSCALE);
  const Image g = decode_image_memory(gj.data(), gj.size());
  ASSERT_EQ(g.width, 40);
  ASSERT_EQ(g.height, 24);
  for (int x = 0; x < 40; x += 7) {
    EXPECT_EQ(g.pixel(x, 10)[0], g.pixel(x, 10)[1]);
    EXPECT_EQ(g.pixel(x, 10)[0], g.pixel(x, 10)[2]);
    EXPECT_NEAR(g.pixel(x, 10)[0], x * 6, 6);
  }
}

TEST(ImageJpeg, AdobeCmykIsConverted) {
  // Photoshop stores CMYK inverted (255 - ink) with an Adobe marker; red is C=0 M=Y=255 K=0.
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 32 * 16; ++i) cmyk.insert(cmyk.end(), {255, 0, 0, 255});
  const std::vector<uint8_t> jpg = encode_jpeg(cmyk, 32, 16, 4, JCS_CMYK);
  const Image img = decode_image_memory(jpg.data(), jpg.size());
  expect_near_colour(img, 10, 8, kRed, "CMYK red");
}

TEST(ImageJpeg, ExifOrientation) {
  const std::vector<uint8_t> px = quadrants(64, 32);
  // 6 (little-endian EXIF): rotate 90 degrees clockwise, so 64x32 becomes 32x64 and the red top-left
  // quadrant lands top-right.
  std::vector<uint8_t> jpg = encode_jpeg(px, 64, 32, 3, JCS_RGB, testing::exif_app1(6, true));
  Image img = decode_image_memory(jpg.data(), jpg.size());
  ASSERT_EQ(img.width, 32);
  ASSERT_EQ(img.height, 64);
  expect_near_colour(img, 24, 16, kRed, "o6 top-right");
  expect_near_colour(img, 24, 48, kGreen, "o6 bottom-right");
  expect_near_colour(img, 8, 16, kBlue, "o6 top-left");
  expect_near_colour(img, 8, 48, kWhite, "o6 bottom-left");
  // 3 (big-endian EXIF): rotate 180 degrees.
  jpg = encode_jpeg(px, 64, 32, 3, JCS_RGB, testing::exif_app1(3, false));
  img = decode_image_memory(jpg.data(), jpg.size());
  ASSERT_EQ(img.width, 64);
  ASSERT_EQ(img.height, 32);
  expect_near_colour(img, 48, 24, kRed, "o3 bottom-right");
  expect_near_colour(img, 16, 8, kWhite, "o3 top-left");
}

TEST(ImageJpeg, BrokenFiles) {
  const std::vector<uint8_t> good = encode_jpeg(quadrants(64, 48), 64, 48, 3, JCS_RGB);
  ASSERT_EQ(decode_status(good), Status::Ok);
  std::string msg;
  EXPECT_EQ(decode_status({good.begin(), good.begin() + good.size() * 2 / 3}, &msg), Status::BadFile);
  EXPECT_NE(msg.find("JPEG"), std::string::npos) << msg;
  EXPECT_EQ(decode_status({good.begin(), good.begin() + 40}), Status::BadFile);

  std::vector<uint8_t> garbage = {0xff, 0xd8, 0xff};  // a JPEG start followed by noise
  const std::vector<uint8_t> noise = random_bytes(500, 10);
  garbage.insert(garbage.end(), noise.begin(), noise.end());
  EXPECT_EQ(decode_status(garbage), Status::BadFile);

  // SOF0 patched to 60000 x 60000: refused by the pixel limit before decoding.
  std::vector<uint8_t> huge = good;
  size_t sof = 2;
  while (sof + 9 < huge.size() && !(huge[sof] == 0xff && huge[sof + 1] == 0xc0)) ++sof;
  ASSERT_LT(sof + 9, huge.size());
  huge[sof + 5] = huge[sof + 7] = 0xea;
  huge[sof + 6] = huge[sof + 8] = 0x60;
  EXPECT_EQ(decode_status(huge, &msg), Status::Unsupported);
  EXPECT_NE(msg.find("megapixels"), std::string::npos) << msg;
  huge[sof + 5] = huge[sof + 6] = 0;  // height 0
  EXPECT_EQ(decode_status(huge), Status::BadFile);
}

// --- format sniffing, files, fuzzing ----------------------------------------------------------------

TEST(ImageDecode, UnknownFormatsAndFiles) {
  std::string msg;
  std::vector<uint8_t> garbage = random_bytes(300, 11);
  garbage[0] = 0x13;
  EXPECT_EQ(decode_status(garbage, &msg), Status::Unsupported);
  EXPECT_NE(msg.find("13 "), std::string::npos) << msg;
  const std::string text = "Hello, this is not an image.\n";
  EXPECT_EQ(decode_status({text.begin(), text.end()}, &msg), Status::Unsupported);
  EXPECT_NE(msg.find("\"Hello, t\""), std::string::npos) << msg;
  EXPECT_EQ(decode_status({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}, &msg), Status::Unsupported);
  EXPECT_NE(msg.find("GIF"), std::string::npos) << msg;
  EXPECT_EQ(decode_status({}), Status::BadFile);

  const std::string dir = testing::temp_dir("bluecl-image");
  const std::string txt = dir + "/notes.png";  // the extension lies; the content decides
  testing::write_file(txt, {text.begin(), text.end()});
  EXPECT_EQ(status_of([&] { decode_image(txt); }, &msg), Status::Unsupported);
  EXPECT_NE(msg.find(txt), std::string::npos) << msg;
  const std::string empty = dir + "/empty.jpg";
  testing::write_file(empty, {});
  EXPECT_EQ(status_of([&] { decode_image(empty); }, &msg), Status::BadFile);
  EXPECT_NE(msg.find(empty), std::string::npos) << msg;
  EXPECT_EQ(status_of([&] { decode_image(dir + "/missing.png"); }), Status::Io);
  EXPECT_EQ(status_of([&] { decode_image(dir); }), Status::Io);

  const std::string jpg_path = dir + "/photo.png";  // a JPEG named .png still decodes
  testing::write_file(jpg_path, encode_jpeg(quadrants(16, 16), 16, 16, 3, JCS_RGB));
  EXPECT_EQ(decode_image(jpg_path).width, 16);
  std::filesystem::remove_all(dir);
}

TEST(ImageDecode, MutatedFilesNeverCrash) {
  const std::vector<std::vector<uint8_t>> seeds = {
      encode_png({24, 16, 8, 6, true, random_bytes(24 * 16 * 4, 12), {}, {}}),
      encode_png({24, 16, 8, 3, false, random_bytes(24 * 16, 13), random_bytes(768, 14), {9, 8, 7}}),
      encode_jpeg(quadrants(24, 16), 24, 16, 3, JCS_RGB, testing::exif_app1(8, true)),
  };
  std::mt19937_64 rng(15);
  int decoded = 0, refused = 0;
  for (const auto& seed : seeds) {
    for (int iter = 0; iter < 300; ++iter) {
      std::vector<uint8_t> b = seed;
      const int flips = 1 + int(rng() % 4);
      for (int i = 0; i < flips; ++i) b[rng() % b.size()] = uint8_t(rng());
      if (iter % 3 == 0) b.resize(rng() % b.size());
      const Status s = decode_status(b);
      EXPECT_TRUE(s == Status::Ok || s == Status::BadFile || s == Status::Unsupported) << status_name(s);
      (s == Status::Ok ? decoded : refused)++;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(ImageDecode, ExifParserIsBoundsChecked) {
  const std::vector<uint8_t> app1 = testing::exif_app1(6, true);
  const std::vector<uint8_t> tiff(app1.begin() + 6, app1.end());
  EXPECT_EQ(detail::exif_orientation(tiff.data(), tiff.size()), 6);
  for (size_t n = 0; n < tiff.size(); ++n) {  // every truncation: the tag is found or 1, no overread
    std::vector<uint8_t> cut(tiff.begin(), tiff.begin() + n);
    const int o = detail::exif_orientation(cut.data(), cut.size());
    EXPECT_TRUE(o == 1 || (o == 6 && n >= tiff.size() - 4)) << n;
  }
  std::vector<uint8_t> bad = tiff;
  bad[4] = 0xf0;  // IFD offset past the end
  EXPECT_EQ(detail::exif_orientation(bad.data(), bad.size()), 1);
  bad = tiff;
  bad[8] = 0xff, bad[9] = 0xff;  // 65535 entries claimed
  EXPECT_EQ(detail::exif_orientation(bad.data(), bad.size()), 6);
}

TEST(ImageDecode, OrientationGroupLaws) {
  Image img = make_image(5, 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i);
  auto apply = [](const Image& im, int o) { return detail::apply_exif_orientation(im, o); };
  for (int o : {2, 3, 4, 5, 7}) EXPECT_EQ(apply(apply(img, o), o).rgb, img.rgb) << o;  // involutions
  EXPECT_EQ(apply(apply(img, 6), 8).rgb, img.rgb);
  EXPECT_EQ(apply(apply(img, 6), 6).rgb, apply(img, 3).rgb);
  EXPECT_EQ(apply(apply(img, 2), 4).rgb, apply(img, 3).rgb);
  const Image r6 = apply(img, 6);
  EXPECT_EQ(r6.width, 3);
  EXPECT_EQ(r6.height, 5);
  EXPECT_EQ(r6.pixel(2, 0)[0], img.pixel(0, 0)[0]);  // clockwise: top-left goes top-right
  EXPECT_EQ(r6.pixel(0, 0)[0], img.pixel(0, 2)[0]);  // bottom-left goes top-left
  const Image r8 = apply(img, 8);
  EXPECT_EQ(r8.pixel(0, 4)[0], img.pixel(0, 0)[0]);  // counter-clockwise: top-left goes bottom-left
  const Image r5 = apply(img, 5);
  EXPECT_EQ(r5.pixel(1, 4)[0], img.pixel(4, 1)[0]);  // transpose
}

// --- resize ------------------------------------------------------------------------------------------

TEST(ImageResize, ConstantStaysConstant) {
  const Image src = make_image(97, 61, 10, 200, 37);
  for (auto [w, h] : {std::pair{30, 20}, {200, 150}, {97, 13}, {5, 61}, {1, 1}, {400, 7}}) {
    const Image out = resize_bicubic(src, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    for (size_t i = 0; i < out.rgb.size(); i += 3) {
      ASSERT_EQ(out.rgb[i], 10);
      ASSERT_EQ(out.rgb[i + 1], 200);
      ASSERT_EQ(out.rgb[i + 2], 37);
    }
  }
}

double smooth(double x, double y) {
  return 128 + 60 * std::sin(x / 37.0) * std::cos(y / 29.0) + 0.1 * x;
}

TEST(ImageResize, SmoothFieldMatchesDirectEvaluation) {
  const int w0 = 400, h0 = 300;
  Image src = make_image(w0, h0);
  for (int y = 0; y < h0; ++y) {
    for (int x = 0; x < w0; ++x) {
      for (int c = 0; c < 3; ++c) src.pixel(x, y)[c] = uint8_t(std::lround(smooth(x + 7 * c, y)));
    }
  }
  for (auto [w, h] : {std::pair{123, 77}, {620, 410}}) {  // down, up
    const Image out = resize_bicubic(src, w, h);
    double max_err = 0;
    for (int y = 3; y < h - 3; ++y) {
      for (int x = 3; x < w - 3; ++x) {
        // Output pixel centres map to input coordinates (i + 0.5) * scale - 0.5.
        const double sx = (x + 0.5) * w0 / w - 0.5, sy = (y + 0.5) * h0 / h - 0.5;
        for (int c = 0; c < 3; ++c)
          max_err = std::max(max_err, std::fabs(out.pixel(x, y)[c] - smooth(sx + 7 * c, sy)));
      }
    }
    EXPECT_LT(max_err, 2.0) << w << "x" << h;
  }
}

TEST(ImageResize, DownscaleAveragesStripes) {
  // One-pixel black/white stripes shrunk 4x: antialiasing gives mid grey, plain bicubic sampling would not.
  Image src = make_image(256, 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 256; x += 2) std::fill_n(src.pixel(x, y), 3, uint8_t(255));
  const Image out = resize_bicubic(src, 64, 2);
  for (int x = 4; x < 60; ++x) EXPECT_NEAR(out.pixel(x, 1)[0], 128, 2) << x;
}

// How far resize_bicubic may be from Pillow (see MatchesPil): off by at most this many levels, in at most
// this fraction of the values.
constexpr int kPilMaxDiff = 1;
constexpr double kPilMaxDiffFraction = 0.001;

// A binary PPM (P6, maxval 255) as PIL writes it: "P6\nW H\n255\n" then the pixels.
Image read_ppm(const std::string& path) {
  const std::vector<uint8_t> b = read_bytes(path);
  const std::string head(b.begin(), b.begin() + std::min<size_t>(b.size(), 64));
  int w = 0, h = 0, maxval = 0, used = 0;
  if (std::sscanf(head.c_str(), "P6 %d %d %d%n", &w, &h, &maxval, &used) != 3 || maxval != 255)
    throw std::runtime_error(path + ": not an 8-bit binary PPM");
  Image img = make_image(w, h);
  const size_t start = size_t(used) + 1;  // one whitespace byte after maxval
  if (b.size() != start + img.rgb.size()) throw std::runtime_error(path + ": wrong size");
  std::copy(b.begin() + start, b.end(), img.rgb.begin());
  return img;
}

// Against Pillow's Image.resize(BICUBIC) itself (tests/data/resize, made by make_pil_resize.py): sources
// with hard edges and noise, shrunk, enlarged and stretched along one axis. Pillow's fixed-point weights
// and ours (float) may round a near-tie differently, so a few values may be off by a level or two; no
// more, and rarely.
TEST(ImageResize, MatchesPil) {
  std::istringstream manifest(read_text(data_path("resize/manifest.txt")));
  std::string line;
  int cases = 0;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string src_name, out_name;
    int w = 0, h = 0;
    ASSERT_TRUE(f >> src_name >> w >> h >> out_name) << line;
    const Image want = read_ppm(data_path("resize/" + out_name));
    const Image got = resize_bicubic(read_ppm(data_path("resize/" + src_name)), w, h);
    ASSERT_EQ(got.width, want.width) << line;
    ASSERT_EQ(got.height, want.height) << line;
    int max_diff = 0;
    size_t n_diff = 0;
    for (size_t i = 0; i < got.rgb.size(); ++i) {
      const int d = std::abs(int(got.rgb[i]) - int(want.rgb[i]));
      max_diff = std::max(max_diff, d);
      n_diff += d != 0;
    }
    const double frac = double(n_diff) / double(got.rgb.size());
    std::printf("  %-20s %zu of %zu values differ from PIL (%.3f%%), by at most %d\n", out_name.c_str(),
                n_diff, got.rgb.size(), 100 * frac, max_diff);
    EXPECT_LE(max_diff, kPilMaxDiff) << line;
    EXPECT_LE(frac, kPilMaxDiffFraction) << line;
    ++cases;
  }
  EXPECT_GE(cases, 8);
}

TEST(ImageResize, LetterboxCentresAndPads) {
  const Image src = make_image(800, 400, 50, 100, 150);
  const Image c = resize_letterbox(src, 384, 384);  // fitted to 384 x 192 at rows 96..287
  ASSERT_EQ(c.width, 384);
  ASSERT_EQ(c.height, 384);
  for (int y = 0; y < 384; ++y) {
    const bool inside = y >= 96 && y < 288;
    for (int x = 0; x < 384; x += 17) {
      ASSERT_EQ(c.pixel(x, y)[1], inside ? 100 : 0) << x << "," << y;
    }
  }
  const Image thin = resize_letterbox(make_image(3000, 1, 9, 9, 9), 384, 384);  // at least one row
  EXPECT_EQ(thin.pixel(0, 191)[0] + thin.pixel(0, 192)[0], 9);
  EXPECT_THROW(resize_bicubic(src, 0, 10), Error);
}

// A camera-sized downscale (the path every photo takes): the right size, and a flat image stays flat
// to within one level (the filter's weights sum to one at every output pixel). Its speed is measured by
// `bluecl bench --mmproj`, not asserted here.
TEST(ImageResize, LargeDownscaleKeepsLevels) {
  Image src = make_image(4000, 3000, 77, 140, 203);
  const Image out = resize_bicubic(src, 1536, 1152);
  EXPECT_EQ(out.width, 1536);
  EXPECT_EQ(out.height, 1152);
  for (int y = 0; y < out.height; y += 37)
    for (int x = 0; x < out.width; x += 41) {
      const uint8_t* p = out.pixel(x, y);
      ASSERT_NEAR(p[0], 77, 1) << x << "," << y;
      ASSERT_NEAR(p[1], 140, 1) << x << "," << y;
      ASSERT_NEAR(p[2], 203, 1) << x << "," << y;
    }
}

}  // namespace
}  // namespace bluecl
