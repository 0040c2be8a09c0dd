// y[r, :] = table[ids[r], :] as F32, for a table of any weight type.
#include "backend/cpu/ops/ops.h"

#include "graph/base/error.h"

namespace bluecl::cpu {

void get_rows(const OpArgs& a) {
  const TensorInfo& ti = a.in(0);
  const int64_t n_rows = ti.shape[0], D = ti.shape[1], n = a.in(1).shape[0];
  const auto* table = static_cast<const uint8_t*>(a.src[0]);
  const auto* ids = static_cast<const int32_t*>(a.src[1]);
  for (int64_t r = 0; r < n; ++r)
    if (ids[r] < 0 || ids[r] >= n_rows)
      fail(Status::InvalidArgument, "{}: row id {} outside [0, {})", ti.name, ids[r], n_rows);
  const size_t row = ti.row_bytes();
  float* y = a.y();
  a.pool.parallel_for(
      n,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) dequantize_row(ti.dtype, table + ids[r] * row, y + r * D, D);
      },
      rows_grain(D));
}

}  // namespace bluecl::cpu
