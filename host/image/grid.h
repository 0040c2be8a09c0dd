// Dynamic resolution: choosing the tile grid m:n for an image (spec bluelm-v-3b.md section 2(a)).
//
// A grid m:n (m columns, n rows) resizes the image into W = tile*m by H = tile*n and cuts m*n tiles, plus
// one thumbnail tile. For an image W0 x H0 and a candidate W x H: s = min(W / W0, H / H0),
// effective resolution Re = min(int(W0*s) * int(H0*s), W0*H0), wasted Rw = W*H - Re.
// Candidates are all (m, n) with 1 <= m, n <= max_grid and m*n <= max_tiles, visited in descending order:
// m from max_grid down to 1, and for each m, n from max_grid down to 1 (4:2, 4:1, 3:2, 3:1, 2:4, ...).
//  - relaxed (BlueLM-V): replace the best when Re - Re_max > alpha * Re_max, or when
//    Re_max - Re < alpha * Re_max and Rw < Rw_min; so a smaller grid that loses under alpha of the
//    effective resolution and wastes fewer pixels wins.
//  - LLaVA-NeXT: replace when Re > Re_max, or Re == Re_max and Rw < Rw_min.
// Both start from Re_max = 0, Rw_min = infinity and update both on every replacement. Where the spec's
// relaxed rule would pick nothing (an image so thin that int(W0*s) or int(H0*s) is 0 for every
// candidate) it takes the least wasteful grid, as LLaVA-NeXT's rule does. A non-positive
// image size or meaningless options throw Error(InvalidArgument).
#pragma once

namespace bluecl {

struct Grid {
  int m = 1;                             // columns (width multiplier)
  int n = 1;                             // rows (height multiplier)
  int n_tiles() const { return m * n; }  // without the thumbnail
  bool operator==(const Grid&) const = default;
};

struct GridOptions {
  int tile = 384;
  int max_grid = 4;
  int max_tiles = 8;
  double alpha = 0.1;
};

Grid select_grid_relaxed(int width, int height, const GridOptions& opt = {});
Grid select_grid_llava_next(int width, int height, const GridOptions& opt = {});

// Image tokens the LLM sees for a grid: one group per tile plus the thumbnail's.
int image_token_count(Grid g, int tokens_per_tile = 196);

}  // namespace bluecl
