// Writes a chunk's K or V rows into the cache at row n_past with copy.cl's conversion kernel.
#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

Support supports_kv_write(const ClRuntime&, const Graph& g, const Node& n) {
  if (g.info(n.src[0]).dtype != DType::F32) return Support::no("kv_write from a non-f32 source");
  return Support::yes();
}

void kv_write(const OpArgs& a) {
  const TensorInfo& si = a.in(0);
  const TensorInfo& ci = a.in(1);
  const int64_t n = si.shape[0];
  if (a.step.n_past < 0 || a.step.n_past + n > ci.shape[0])
    fail(Status::ContextFull, "{}: writing positions {}..{} into a cache of {}", ci.name, a.step.n_past,
         a.step.n_past + n - 1, ci.shape[0]);
  const int64_t per_pos = si.shape.numel() / n;  // n_head_kv * head_dim elements per position
  const Mem dst{a.dst.buf, a.dst.off + a.step.n_past * dtype_bytes(ci.dtype, per_pos)};
  convert_rows(a, DType::F32, a.src[0], ci.dtype, dst, n, per_pos);
}

}  // namespace bluecl::clops
