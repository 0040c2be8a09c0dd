// y = x converted row by row to y's dtype (through fp32 when neither side is F32).
#include "backend/cpu/ops/ops.h"

#include <cstring>
#include <vector>

namespace bluecl::cpu {

void convert_rows(ThreadPool& pool, DType st, const void* src, DType dt, void* dst, int64_t rows, int64_t n) {
  const size_t s_row = dtype_bytes(st, n), d_row = dtype_bytes(dt, n);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  if (st == dt) {
    std::memcpy(d, s, s_row * rows);
    return;
  }
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    std::vector<float> tmp(st == DType::F32 ? 0 : n);
    for (int64_t r = r0; r < r1; ++r) {
      const float* f = reinterpret_cast<const float*>(s + r * s_row);
      if (st != DType::F32) {
        dequantize_row(st, s + r * s_row, tmp.data(), n);
        f = tmp.data();
      }
      quantize_row(dt, f, d + r * d_row, n);
    }
  });
}

void copy(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  convert_rows(a.pool, xi.dtype, a.src[0], a.out().dtype, a.dst, xi.shape.rows(), xi.shape.last());
}

}  // namespace bluecl::cpu
