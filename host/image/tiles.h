// Cutting an image into the vision encoder's input tiles (spec bluelm-v-3b.md section 2(a)).
//
// For a grid m:n and tile size T: the image is fitted (aspect-preserving bicubic, centred, black padding;
// see resize_letterbox) into a canvas of T*m x T*n, and separately into one T x T thumbnail.
// Tile order: the thumbnail first, then the m*n canvas tiles row by row, left to right; tile t >= 1 is
// canvas column (t-1) % m, row (t-1) / m. Tensor layout [n_tiles, 3, T, T] (channel-planar),
// each value (v / 255 - mean[c]) / stddev[c]; padding is black before normalisation (-1 with the
// defaults).
//
// prepare_tiles() does the resizing once; make_tiles_range() then extracts and normalises any run of tiles
// cheaply, so tiles can be produced batch by batch while earlier batches are encoded.
#pragma once

#include "host/image/grid.h"
#include "host/image/image.h"

#include <array>
#include <vector>

namespace bluecl {

struct TileOptions {
  int tile = 384;
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
  std::array<float, 3> stddev{0.5f, 0.5f, 0.5f};
};

struct TiledImage {
  Grid grid;
  int tile = 0;
  Image canvas;     // tile*m x tile*n
  Image thumbnail;  // tile x tile
  int n_tiles() const { return 1 + grid.m * grid.n; }
};

// Throws InvalidArgument for a grid or tile size that is not positive or a canvas past kMaxImagePixels.
TiledImage prepare_tiles(const Image& img, Grid grid, int tile);

// Writes tiles [first, first + count) as [count, 3, T, T] floats to out (count * 3 * T * T values).
void make_tiles_range(const TiledImage& tiled, const TileOptions& opt, int first, int count, float* out);

struct Tiles {
  int n_tiles = 0;
  int tile = 0;
  std::vector<float> data;  // [n_tiles, 3, tile, tile]
};

Tiles make_tiles(const Image& img, Grid grid, const TileOptions& opt = {});

}  // namespace bluecl
