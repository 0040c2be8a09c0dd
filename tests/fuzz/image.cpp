// Fuzz target "image": decode_image_memory on any bytes (PNG and JPEG, every colour type, EXIF
// orientation), then for an image that decodes, both grid rules and the tiling (letterbox resize into
// the canvas and the thumbnail, every tile extracted and normalised) at a small tile size, and a bicubic
// resize to a size taken from the image. Bad input must end in Error; every value must be finite.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "host/image/grid.h"
#include "host/image/image.h"
#include "host/image/tiles.h"
#include "tests/image_encode.h"

#include <cmath>

namespace bluecl::fuzz {
namespace {

// Tiles of 16 pixels keep each input fast while running the same resize and cutting code as 384.
constexpr int kTile = 16;
// Images past this are decoded but not tiled (the resize of a 64-megapixel image would take seconds).
constexpr int64_t kMaxTiledPixels = int64_t{1} << 20;

int run(const uint8_t* data, size_t size) {
  Image img;
  try {
    img = decode_image_memory(data, size);
  } catch (const Error& e) {
    expect_input_error(e);
    return 0;
  }
  BLUECL_FUZZ_CHECK(img.width > 0 && img.height > 0);
  BLUECL_FUZZ_CHECK(img.rgb.size() == size_t(img.width) * size_t(img.height) * 3);
  if (int64_t(img.width) * img.height > kMaxTiledPixels) return 0;
  const GridOptions opt{.tile = kTile, .max_grid = 4, .max_tiles = 8, .alpha = 0.1};
  const Grid relaxed = select_grid_relaxed(img.width, img.height, opt);
  const Grid llava = select_grid_llava_next(img.width, img.height, opt);
  for (const Grid& g : {relaxed, llava}) {
    BLUECL_FUZZ_CHECK(g.m >= 1 && g.n >= 1 && g.m <= opt.max_grid && g.n <= opt.max_grid &&
                      g.n_tiles() <= opt.max_tiles);
  }
  const TiledImage tiled = prepare_tiles(img, relaxed, kTile);
  BLUECL_FUZZ_CHECK(tiled.canvas.width == kTile * relaxed.m && tiled.canvas.height == kTile * relaxed.n);
  std::vector<float> out(size_t(tiled.n_tiles()) * 3 * kTile * kTile);
  make_tiles_range(tiled, TileOptions{.tile = kTile}, 0, tiled.n_tiles(), out.data());
  for (float v : out) BLUECL_FUZZ_CHECK(std::isfinite(v) && v >= -1.001f && v <= 1.001f);
  const Image small = resize_bicubic(img, 1 + img.width % 23, 1 + img.height % 19);
  BLUECL_FUZZ_CHECK(small.rgb.size() == size_t(small.width) * size_t(small.height) * 3);
  return 0;
}

std::vector<uint8_t> gradient(int w, int h, int channels, int bytes_per_sample) {
  std::vector<uint8_t> v(size_t(w) * h * channels * bytes_per_sample);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i * 37 + i / 7);
  return v;
}

// Small PNGs of every colour type and bit depth the decoder handles, interlaced and not, palettes with
// transparency, an eXIf orientation, and JPEGs (grey, RGB, CMYK, EXIF orientations in both byte orders).
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  using testing::PngSpec;
  struct Png {
    const char* name;
    int w, h, depth, color;
    bool interlaced;
  };
  const Png pngs[] = {{"png-rgb8", 7, 5, 8, 2, false},        {"png-rgb16", 5, 3, 16, 2, false},
                      {"png-grey1", 9, 4, 1, 0, false},       {"png-grey8-adam7", 11, 6, 8, 0, true},
                      {"png-grey-alpha8", 4, 4, 8, 4, false}, {"png-rgba8", 6, 9, 8, 6, true},
                      {"png-rgba16", 3, 2, 16, 6, false},     {"png-palette4", 8, 3, 4, 3, false}};
  for (const Png& p : pngs) {
    const int channels = p.color == 2 ? 3 : p.color == 4 ? 2 : p.color == 6 ? 4 : 1;
    PngSpec s{
        .width = p.w, .height = p.h, .bit_depth = p.depth, .color_type = p.color, .interlaced = p.interlaced};
    const size_t row_bytes = (size_t(p.w) * channels * p.depth + 7) / 8;
    s.rows = gradient(int(row_bytes), p.h, 1, 1);
    if (p.color == 3) {
      s.palette = gradient(16, 1, 3, 1);
      s.trns = {255, 0, 128};
    }
    emit(p.name, testing::encode_png(s));
  }
  {
    PngSpec s{.width = 3, .height = 5, .bit_depth = 8, .color_type = 2};
    s.rows = gradient(9, 5, 1, 1);
    std::vector<uint8_t> png = testing::encode_png(s);
    const size_t iend = testing::find_png_chunk(png, "IEND");
    const std::vector<uint8_t> exif = testing::exif_app1(6, true);
    const std::vector<uint8_t> chunk =
        testing::png_chunk("eXIf", std::vector<uint8_t>(exif.begin() + 6, exif.end()));  // TIFF only
    png.insert(png.begin() + long(iend), chunk.begin(), chunk.end());
    emit("png-exif6", png);
  }
  emit("jpeg-rgb", testing::encode_jpeg(gradient(13, 7, 3, 1), 13, 7, 3, 2));
  emit("jpeg-grey", testing::encode_jpeg(gradient(8, 8, 1, 1), 8, 8, 1, 1, {}, 50));
  emit("jpeg-cmyk", testing::encode_jpeg(gradient(6, 10, 4, 1), 6, 10, 4, 4));
  emit("jpeg-exif8-le", testing::encode_jpeg(gradient(5, 9, 3, 1), 5, 9, 3, 2, testing::exif_app1(8, true)));
  emit("jpeg-exif3-be", testing::encode_jpeg(gradient(9, 4, 3, 1), 9, 4, 3, 2, testing::exif_app1(3, false)));
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(image, bluecl::fuzz::run, bluecl::fuzz::seeds)
