// cache[n_past + i, :, :] = src[i, :, :] converted to the cache's type (F32, F16 or Q8_0).
#include "backend/cpu/ops/ops.h"

#include "graph/base/error.h"

namespace bluecl::cpu {

void kv_write(const OpArgs& a) {
  const TensorInfo& si = a.in(0);
  const TensorInfo& ci = a.in(1);
  const int64_t n = si.shape[0], n_ctx = ci.shape[0];
  if (a.step.n_past < 0 || a.step.n_past + n > n_ctx)
    fail(Status::ContextFull, "{}: writing positions {}..{} into a cache of {}", ci.name, a.step.n_past,
         a.step.n_past + n - 1, n_ctx);
  const int64_t per_pos = si.shape.numel() / n;  // n_head_kv * head_dim elements per position
  auto* dst = static_cast<uint8_t*>(a.dst) + a.step.n_past * dtype_bytes(ci.dtype, per_pos);
  convert_rows(a.pool, si.dtype, a.src[0], ci.dtype, dst, n, per_pos, a.fast);
}

}  // namespace bluecl::cpu
