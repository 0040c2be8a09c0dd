// Grid selection for dynamic resolution. Contract and formulas in host/image/grid.h. The arithmetic is done
// in double and int64 exactly as the spec writes it (s as a double quotient, int() truncating W0*s), so
// borderline sizes land on the same side as the reference.
#include "host/image/grid.h"

#include "graph/base/error.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace bluecl {

namespace {

enum class Rule { Relaxed, LlavaNext };

void check_inputs(int width, int height, const GridOptions& opt) {
  if (width < 1 || height < 1)
    fail(Status::InvalidArgument, "grid selection for a {}x{} image", width, height);
  if (opt.tile < 1 || opt.max_grid < 1 || opt.max_tiles < 1 || !(opt.alpha >= 0.0)) {
    fail(Status::InvalidArgument, "grid options tile {} max_grid {} max_tiles {} alpha {}", opt.tile,
         opt.max_grid, opt.max_tiles, opt.alpha);
  }
}

Grid select_grid(int width, int height, const GridOptions& opt, Rule rule) {
  check_inputs(width, height, opt);
  const int64_t w0 = width, h0 = height;
  Grid best;
  int64_t re_max = 0;
  int64_t rw_min = std::numeric_limits<int64_t>::max();
  for (int m = opt.max_grid; m >= 1; --m) {
    for (int n = opt.max_grid; n >= 1; --n) {
      if (int64_t(m) * n > opt.max_tiles) continue;
      const int64_t W = int64_t(opt.tile) * m, H = int64_t(opt.tile) * n;
      const double s = std::min(double(W) / double(w0), double(H) / double(h0));
      const int64_t re = std::min(int64_t(double(w0) * s) * int64_t(double(h0) * s), w0 * h0);
      const int64_t rw = W * H - re;
      bool take;
      if (rule == Rule::Relaxed) {
        const double tol = opt.alpha * double(re_max);
        take = double(re - re_max) > tol || (double(re_max - re) < tol && rw < rw_min) ||
               (re_max == 0 && rw < rw_min);  // no candidate has any effective resolution yet
      } else {
        take = re > re_max || (re == re_max && rw < rw_min);
      }
      if (take) {
        best = Grid{m, n};
        re_max = re;
        rw_min = rw;
      }
    }
  }
  return best;
}

}  // namespace

Grid select_grid_relaxed(int width, int height, const GridOptions& opt) {
  return select_grid(width, height, opt, Rule::Relaxed);
}

Grid select_grid_llava_next(int width, int height, const GridOptions& opt) {
  return select_grid(width, height, opt, Rule::LlavaNext);
}

int image_token_count(Grid g, int tokens_per_tile) {
  BLUECL_ASSERT(g.m >= 1 && g.n >= 1 && tokens_per_tile >= 0, "image_token_count({}:{}, {})", g.m, g.n,
                tokens_per_tile);
  return tokens_per_tile * (g.m * g.n + 1);
}

}  // namespace bluecl
