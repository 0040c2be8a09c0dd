// bluecl grid W H: the tile grid relaxed aspect-ratio matching picks for an image size.
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace bluecl::cli {

namespace {

int32_t dimension(const std::string& s, const char* what) {
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0)
    throw std::runtime_error(std::string(what) + " must be a positive integer, got '" + s + "'");
  return v;
}

int body(int argc, char** argv) {
  std::string w, h;
  bool llava = false;
  bluecl_grid_params p = bluecl_grid_default_params();
  int64_t max_grid = p.max_grid, max_tiles = p.max_tiles;
  double alpha = p.alpha;
  Args a("grid", "W H [options]",
         "Prints the grid m:n (m columns, n rows of 384x384 tiles) chosen for a W x H image by relaxed\n"
         "aspect-ratio matching, and the number of image tokens (196 per tile, plus the thumbnail).");
  a.positional("W", &w, "image width in pixels").positional("H", &h, "image height in pixels");
  a.opt("--max-grid", &max_grid, "largest m and n (default 4)", {1, 16});
  a.opt("--max-tiles", &max_tiles, "cap on m*n (default 8)", {1, 256});
  a.opt("--alpha", &alpha, "relaxed matching's tolerance (default 0.1)", {0.0, 1.0});
  a.flag("--llava-next", &llava, "use LLaVA-NeXT's rule instead (for comparison)");
  if (!a.parse(argc, argv)) return 0;
  p.max_grid = static_cast<int32_t>(max_grid);
  p.max_tiles = static_cast<int32_t>(max_tiles);
  p.alpha = static_cast<float>(alpha);
  p.llava_next = llava;
  int32_t m = 0, n = 0, tokens = 0;
  check(bluecl_image_grid(dimension(w, "W"), dimension(h, "H"), &p, &m, &n, &tokens), "choosing a grid");
  std::printf("%d:%d %d\n", m, n, tokens);
  return 0;
}

}  // namespace

int grid_main(int argc, char** argv) {
  return run_command("grid", body, argc, argv);
}

}  // namespace bluecl::cli
