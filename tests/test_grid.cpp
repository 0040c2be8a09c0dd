// Dynamic resolution: grid selection against the golden grids.json (both rules) and the spec's reference
// cases, image token counts, and tile cutting (order, thumbnail padding, normalisation, sub-ranges).
#include "graph/base/error.h"
#include "host/image/grid.h"
#include "host/image/tiles.h"
#include "host/util/json.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace bluecl {
namespace {

std::string str(Grid g) {
  return std::to_string(g.m) + ":" + std::to_string(g.n);
}

Grid grid_of(const Json& pair) {
  return Grid{int(pair.at(0).as_int()), int(pair.at(1).as_int())};
}

TEST(Grid, GoldenCasesBothRules) {
  const Json doc = parse_json(testing::read_text(testing::data_path("golden/grids.json")));
  GridOptions opt;
  opt.alpha = doc.at("alpha").as_number();
  opt.tile = int(doc.at("tile").as_int());
  opt.max_grid = int(doc.at("max_grid").as_int());
  opt.max_tiles = int(doc.at("max_tiles").as_int());
  const Json& cases = doc.at("cases");
  ASSERT_EQ(cases.size(), 60u);
  int differ = 0;
  for (const Json& c : cases.as_array()) {
    const int w = int(c.at("width").as_int()), h = int(c.at("height").as_int());
    const Grid relaxed = grid_of(c.at("grid")), llava = grid_of(c.at("llava_next_grid"));
    EXPECT_EQ(str(select_grid_relaxed(w, h, opt)), str(relaxed)) << w << "x" << h << " relaxed";
    EXPECT_EQ(str(select_grid_llava_next(w, h, opt)), str(llava)) << w << "x" << h << " LLaVA-NeXT";
    differ += !(relaxed == llava);
  }
  EXPECT_GT(differ, 0);  // the file exercises the difference between the rules
}

TEST(Grid, SpecReferenceCases) {
  GridOptions three;  // the paper's examples use grids 1..3 x 1..3
  three.max_grid = 3;
  three.max_tiles = 9;
  EXPECT_EQ(str(select_grid_relaxed(394, 390, three)), "1:1");
  EXPECT_EQ(str(select_grid_relaxed(380, 76, three)), "1:1");
  EXPECT_EQ(str(select_grid_relaxed(380, 393, three)), "1:1");
  EXPECT_EQ(str(select_grid_relaxed(500, 102, three)), "2:1");
  EXPECT_EQ(str(select_grid_relaxed(394, 390)), "1:1");
  EXPECT_EQ(str(select_grid_llava_next(394, 390)), "2:2");
  EXPECT_EQ(str(select_grid_relaxed(768, 1536)), "2:4");
  EXPECT_EQ(str(select_grid_relaxed(1080, 2400)), "2:4");
}

TEST(Grid, TokenCounts) {
  EXPECT_EQ(image_token_count({1, 1}), 392);
  EXPECT_EQ(image_token_count({2, 2}), 980);
  EXPECT_EQ(image_token_count({2, 4}), 1764);
  EXPECT_EQ(image_token_count({3, 3}), 1960);
  EXPECT_EQ(image_token_count({2, 1}, 16), 48);
}

// Facts that hold whatever the visiting order: both picks are legal grids, and LLaVA-NeXT's pick has the
// largest effective resolution of all candidates.
TEST(Grid, PropertiesOnRandomSizes) {
  std::mt19937 rng(3);
  const GridOptions opt;
  auto effective = [](int w, int h, Grid g) {
    const double s = std::min(384.0 * g.m / w, 384.0 * g.n / h);
    return std::min(int64_t(w * s) * int64_t(h * s), int64_t(w) * h);
  };
  for (int i = 0; i < 2000; ++i) {
    const int w = 1 + int(rng() % 5000), h = 1 + int(rng() % 5000);
    const Grid r = select_grid_relaxed(w, h, opt), l = select_grid_llava_next(w, h, opt);
    for (Grid g : {r, l}) {
      ASSERT_TRUE(g.m >= 1 && g.n >= 1 && g.m <= 4 && g.n <= 4 && g.m * g.n <= 8) << str(g);
    }
    int64_t best = 0;
    for (int m = 1; m <= 4; ++m)
      for (int n = 1; n <= 4 && m * n <= 8; ++n) best = std::max(best, effective(w, h, {m, n}));
    ASSERT_EQ(effective(w, h, l), best) << w << "x" << h;
  }
  EXPECT_EQ(str(select_grid_relaxed(1, 100000)), "1:1");  // no grid has any effective resolution
  EXPECT_THROW(select_grid_relaxed(0, 10), Error);
  EXPECT_THROW(select_grid_relaxed(10, 10, GridOptions{384, 0, 8, 0.1}), Error);
}

// --- tiles -------------------------------------------------------------------------------------------

float norm(uint8_t v) {
  return (v / 255.0f - 0.5f) / 0.5f;
}

const float* tile_ptr(const Tiles& t, int i) {
  return t.data.data() + size_t(i) * 3 * t.tile * t.tile;
}
float at(const Tiles& t, int i, int c, int y, int x) {
  return tile_ptr(t, i)[(size_t(c) * t.tile + y) * t.tile + x];
}

TEST(Tiles, TwoByOneLayoutAndThumbnailPadding) {
  // 768 x 384, left half (200, 40, 90), right half (10, 220, 130): a 2:1 grid needs no resize.
  Image img = make_image(768, 384, 200, 40, 90);
  for (int y = 0; y < 384; ++y) {
    for (int x = 384; x < 768; ++x) {
      uint8_t* p = img.pixel(x, y);
      p[0] = 10, p[1] = 220, p[2] = 130;
    }
  }
  const Tiles t = make_tiles(img, {2, 1});
  ASSERT_EQ(t.n_tiles, 3);
  ASSERT_EQ(t.tile, 384);
  ASSERT_EQ(t.data.size(), size_t(3) * 3 * 384 * 384);
  const uint8_t left[3] = {200, 40, 90}, right[3] = {10, 220, 130};
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 384; y += 31) {
      for (int x = 0; x < 384; x += 29) {
        ASSERT_EQ(at(t, 1, c, y, x), norm(left[c]));
        ASSERT_EQ(at(t, 2, c, y, x), norm(right[c]));
      }
    }
  }
  // Thumbnail: the 2:1 image fitted to 384 x 192 at rows 96..287; the padding rows are exactly -1.
  for (int c = 0; c < 3; ++c) {
    for (int y : {0, 50, 95, 288, 383}) {
      for (int x = 0; x < 384; ++x) ASSERT_EQ(at(t, 0, c, y, x), -1.0f) << c << " " << y << " " << x;
    }
    EXPECT_NEAR(at(t, 0, c, 190, 50), norm(left[c]), 1e-6);
    EXPECT_NEAR(at(t, 0, c, 190, 330), norm(right[c]), 1e-6);
    EXPECT_NE(at(t, 0, c, 96, 100), -1.0f);
  }
}

TEST(Tiles, RowMajorOrderAndPadding) {
  // A 2:2 grid over a 600 x 500 image whose quadrants differ in red: canvas 768 x 768, image fitted to
  // 768 x 640 at rows 64..703. Tiles 1..4 are top-left, top-right, bottom-left, bottom-right.
  Image img = make_image(600, 500);
  for (int y = 0; y < 500; ++y) {
    for (int x = 0; x < 600; ++x) img.pixel(x, y)[0] = uint8_t(40 + 50 * ((y >= 250) * 2 + (x >= 300)));
  }
  const Tiles t = make_tiles(img, {2, 2});
  ASSERT_EQ(t.n_tiles, 5);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(at(t, 1 + k, 0, 200, 200), norm(uint8_t(40 + 50 * k)), 1e-6) << k;
  EXPECT_EQ(at(t, 1, 0, 63, 10), -1.0f);  // top padding in the top row of tiles
  EXPECT_NE(at(t, 1, 0, 64, 10), -1.0f);
  EXPECT_EQ(at(t, 4, 0, 320, 10), -1.0f);  // canvas row 704: bottom padding
  EXPECT_NE(at(t, 4, 0, 319, 10), -1.0f);
}

TEST(Tiles, RangeMatchesWholeAndCustomNormalisation) {
  Image img = make_image(500, 430);
  std::mt19937 rng(5);
  for (auto& b : img.rgb) b = uint8_t(rng());
  TileOptions opt;
  opt.tile = 64;
  opt.mean = {0.48f, 0.45f, 0.40f};
  opt.stddev = {0.26f, 0.26f, 0.27f};
  const Tiles whole = make_tiles(img, {3, 2}, opt);
  ASSERT_EQ(whole.n_tiles, 7);

  const TiledImage prepared = prepare_tiles(img, {3, 2}, 64);
  ASSERT_EQ(prepared.canvas.width, 192);
  ASSERT_EQ(prepared.canvas.height, 128);
  std::vector<float> part(size_t(3) * 3 * 64 * 64);
  make_tiles_range(prepared, opt, 2, 3, part.data());
  EXPECT_EQ(std::memcmp(part.data(), tile_ptr(whole, 2), part.size() * sizeof(float)), 0);

  // Tile 5 = canvas row 1, column 1; check the formula on its pixels.
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 64; y += 9) {
      for (int x = 0; x < 64; x += 7) {
        const uint8_t v = prepared.canvas.pixel(64 + x, 64 + y)[c];
        ASSERT_NEAR(at(whole, 5, c, y, x), (v / 255.0f - opt.mean[c]) / opt.stddev[c], 1e-5);
      }
    }
  }
  EXPECT_THROW(make_tiles_range(prepared, opt, 5, 3, part.data()), Error);
  EXPECT_THROW(make_tiles_range(prepared, opt, -1, 1, part.data()), Error);
  TileOptions other = opt;
  other.tile = 32;
  EXPECT_THROW(make_tiles_range(prepared, other, 0, 1, part.data()), Error);
  other = opt;
  other.stddev[1] = 0.0f;
  EXPECT_THROW(make_tiles(img, {1, 1}, other), Error);
}

}  // namespace
}  // namespace bluecl
