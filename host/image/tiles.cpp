// Tile preparation: resize once into the grid canvas and the thumbnail, then cut and normalise tiles on
// demand. Contract in host/image/tiles.h.
#include "host/image/tiles.h"

#include "graph/base/error.h"

#include <cmath>

namespace bluecl {

namespace {

void check_options(const TileOptions& opt) {
  for (int c = 0; c < 3; ++c) {
    if (!(std::isfinite(opt.mean[c]) && std::isfinite(opt.stddev[c]) && opt.stddev[c] != 0.0f)) {
      fail(Status::InvalidArgument, "tile normalisation channel {}: mean {} stddev {}", c, opt.mean[c],
           opt.stddev[c]);
    }
  }
}

// Copies one T x T tile at (x0, y0) of src into out as 3 planes, mapping bytes through per-channel tables.
void extract_tile(const Image& src, int x0, int y0, int t, const float (&lut)[3][256], float* out) {
  const size_t plane = size_t(t) * t;
  for (int y = 0; y < t; ++y) {
    const uint8_t* in = src.pixel(x0, y0 + y);
    float* r = out + size_t(y) * t;
    float* g = r + plane;
    float* b = g + plane;
    for (int x = 0; x < t; ++x, in += 3) {
      r[x] = lut[0][in[0]];
      g[x] = lut[1][in[1]];
      b[x] = lut[2][in[2]];
    }
  }
}

}  // namespace

TiledImage prepare_tiles(const Image& img, Grid grid, int tile) {
  if (grid.m < 1 || grid.n < 1 || tile < 1) {
    fail(Status::InvalidArgument, "tiling with grid {}:{} and tile {}", grid.m, grid.n, tile);
  }
  if (int64_t(tile) * grid.m * int64_t(tile) * grid.n > kMaxImagePixels) {
    fail(Status::InvalidArgument, "grid {}:{} of {} px tiles exceeds {} pixels", grid.m, grid.n, tile,
         kMaxImagePixels);
  }
  TiledImage t;
  t.grid = grid;
  t.tile = tile;
  t.canvas = resize_letterbox(img, tile * grid.m, tile * grid.n);
  // With a 1:1 grid the thumbnail is the same fit into the same square: reuse it.
  t.thumbnail = grid.m == 1 && grid.n == 1 ? t.canvas : resize_letterbox(img, tile, tile);
  return t;
}

void make_tiles_range(const TiledImage& tiled, const TileOptions& opt, int first, int count, float* out) {
  check_options(opt);
  if (first < 0 || count < 0 || first > tiled.n_tiles() - count) {
    fail(Status::InvalidArgument, "tiles [{}, {}) outside the {} tiles of the image", first, first + count,
         tiled.n_tiles());
  }
  if (opt.tile != tiled.tile) {
    fail(Status::InvalidArgument, "tile size {} differs from the prepared tile size {}", opt.tile,
         tiled.tile);
  }
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) lut[c][v] = (float(v) / 255.0f - opt.mean[c]) / opt.stddev[c];
  }
  const int t = tiled.tile;
  const size_t per_tile = size_t(3) * t * t;
  for (int i = 0; i < count; ++i) {
    const int idx = first + i;
    float* dst = out + size_t(i) * per_tile;
    if (idx == 0) {
      extract_tile(tiled.thumbnail, 0, 0, t, lut, dst);
    } else {
      const int k = idx - 1;
      extract_tile(tiled.canvas, (k % tiled.grid.m) * t, (k / tiled.grid.m) * t, t, lut, dst);
    }
  }
}

Tiles make_tiles(const Image& img, Grid grid, const TileOptions& opt) {
  check_options(opt);  // before the resize, not after
  const TiledImage tiled = prepare_tiles(img, grid, opt.tile);
  Tiles out;
  out.n_tiles = tiled.n_tiles();
  out.tile = tiled.tile;
  out.data.resize(size_t(out.n_tiles) * 3 * out.tile * out.tile);
  make_tiles_range(tiled, opt, 0, out.n_tiles, out.data.data());
  return out;
}

}  // namespace bluecl
