// One kernel, specialised per head dimension, key/value type, causality and queries per work-item (QB:
// 1 for decode, 4 when there are enough queries to share each streamed key).
#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

Support supports_attention(const ClRuntime&, const Graph& g, const Node& n) {
  const TensorInfo& k = g.info(n.src[1]);
  const int64_t hd = k.shape[3];
  if (hd % 4 != 0) return Support::no(fmt::format("attention head dim {} is not a multiple of 4", hd));
  if (hd > 256) return Support::no(fmt::format("attention head dim {} > 256", hd));
  if (k.dtype == DType::Q4_0) return Support::no("q4_0 keys/values");
  if (k.dtype == DType::Q8_0 && hd % kQK != 0) return Support::no("q8_0 keys/values with head dim % 32 != 0");
  return Support::yes();
}

void attention(const OpArgs& a) {
  const Shape& qs = a.in(0).shape;
  const Shape& ks = a.in(1).shape;
  const AttentionAttr& at = a.n.a<AttentionAttr>();
  const int64_t B = qs[0], nq = qs[1], H = qs[2], hd = qs[3];
  const int64_t past = at.kv_cache ? a.step.n_past : ks[1] - nq;
  if (past + nq > ks[1])
    fail(Status::ContextFull, "attention over {} keys, but the cache holds {}", past + nq, ks[1]);
  const int qb = nq >= 8 ? 4 : 1;
  ClDefines d;
  d.set("HD", hd).set("KTYPE", static_cast<int>(a.in(1).dtype)).set("CAUSAL", at.causal ? 1 : 0).set("QB", qb);
  cl::Kernel& k = a.rt.kernel(ClProgram::Attention, d, "attention");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.src[2].buf, a.src[2].off, *a.dst.buf,
              a.dst.off, static_cast<cl_uint>(nq), static_cast<cl_uint>(H), static_cast<cl_uint>(ks[2]),
              static_cast<cl_uint>(ks[1]), static_cast<cl_int>(past), at.scale);
  a.rt.launch(k, cl::NDRange((nq + qb - 1) / qb, H, B));
}

}  // namespace bluecl::clops
