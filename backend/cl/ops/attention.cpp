// Variants:
//   "stream" attention.cl: each work-item owns 1 or 4 queries of one head and streams the keys (CPU devices)
//   "flash"  attention_flash.cl: a block of queries per work-group, K/V tiles in local memory, online
//            softmax (prefill and the ViT on GPUs)
//   "split"  attention_split.cl: the keys split into ranges, one work-group per (range, KV head) holding
//            a whole GQA group's queries, then a merge kernel (decode on GPUs; up to 16 queries per group)
// Defaults: CPU devices take stream; other devices split for decode over a long cache, else flash.
// Tunable later through the tuning table; forced with BLUECL_CL_VARIANT=attention=<variant>.
#include "backend/cl/ops/ops.h"

#include <algorithm>

namespace bluecl::clops {

namespace {

struct Att {
  const OpArgs& a;
  int64_t B, nq, H, Hkv, hd, n_rows, past;
  bool causal;
  float scale;
  ClDefines defines() const {
    ClDefines d;
    d.set(ClDef::HD, hd)
        .set(ClDef::KTYPE, static_cast<int>(a.in(1).dtype))
        .set(ClDef::CAUSAL, causal ? 1 : 0);
    return d;
  }
};

void run_stream(const Att& t) {
  const int qb = t.nq >= 8 ? 4 : 1;
  ClKernel& k = t.a.rt.kernel(ClProgram::Attention, t.defines().set(ClDef::QB, qb), "attention");
  const OpArgs& a = t.a;
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.src[2].buf, a.src[2].off,
              *a.dst.buf, a.dst.off, static_cast<cl_uint>(t.nq), static_cast<cl_uint>(t.H),
              static_cast<cl_uint>(t.Hkv), static_cast<cl_uint>(t.n_rows), static_cast<cl_int>(t.past),
              t.scale);
  a.rt.launch(k, cl::NDRange((t.nq + qb - 1) / qb, t.H, t.B));
}

void run_flash(const Att& t) {
  const DeviceFeatures& f = t.a.rt.features;
  const int64_t nc = t.hd / 4;
  const int lpq = nc % 4 == 0 ? 4 : nc % 2 == 0 ? 2 : 1;
  const int bk = t.hd <= 64 ? 32 : 16;
  int bq = 16;
  while (bq > 1 && static_cast<size_t>(lpq * bq) > f.max_work_group_size) bq /= 2;
  const size_t local = (2 * bk * t.hd + static_cast<size_t>(bq) * lpq * bk) * sizeof(float);
  if (local > f.local_mem_bytes)
    fail(Status::Unsupported, "attention flash: {} B of local memory for head dim {}, the device has {}",
         local, t.hd, f.local_mem_bytes);
  ClKernel& k = t.a.rt.kernel(ClProgram::AttentionFlash,
                              t.defines().set(ClDef::LPQ, lpq).set(ClDef::BQ, bq).set(ClDef::BK, bk),
                              "attention_flash");
  const OpArgs& a = t.a;
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.src[2].buf, a.src[2].off,
              *a.dst.buf, a.dst.off, static_cast<cl_uint>(t.nq), static_cast<cl_uint>(t.H),
              static_cast<cl_uint>(t.Hkv), static_cast<cl_uint>(t.n_rows), static_cast<cl_int>(t.past),
              t.scale);
  a.rt.launch(k, cl::NDRange(lpq, round_up(t.nq, bq), t.H * t.B), cl::NDRange(lpq, bq, 1));
}

constexpr int kMaxSplitQueries = 16;

void run_split(const Att& t) {
  const DeviceFeatures& f = t.a.rt.features;
  const int64_t qn = t.nq * (t.H / t.Hkv);
  if (qn > kMaxSplitQueries)
    fail(Status::Unsupported, "attention split: {} queries per KV head, at most {}", qn, kMaxSplitQueries);
  const int64_t n_kv = t.past + t.nq;
  const int split = 128;
  const int nt = static_cast<int>(std::min<size_t>(64, std::max<size_t>(1, f.max_work_group_size)));
  const size_t local = static_cast<size_t>(qn) * (t.hd + split + 2) * sizeof(float);
  if (local > f.local_mem_bytes)
    fail(Status::Unsupported, "attention split: {} B of local memory, the device has {}", local,
         f.local_mem_bytes);
  const auto n_splits = static_cast<cl_uint>((n_kv + split - 1) / split);
  const OpArgs& a = t.a;
  const cl::Buffer& part =
      a.rt.scratch(static_cast<size_t>(t.B * t.Hkv) * n_splits * qn * (t.hd + 2) * sizeof(float));
  ClDefines d = t.defines();
  d.set(ClDef::QN, qn).set(ClDef::SPLIT, split).set(ClDef::NT, nt);
  ClKernel& ks = a.rt.kernel(ClProgram::AttentionSplit, d, "attention_split");
  kernel_args(ks, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.src[2].buf, a.src[2].off, part,
              static_cast<cl_uint>(t.nq), static_cast<cl_uint>(t.H), static_cast<cl_uint>(t.Hkv),
              static_cast<cl_uint>(t.n_rows), static_cast<cl_int>(t.past), t.scale, n_splits);
  a.rt.launch(ks, cl::NDRange(static_cast<size_t>(nt) * n_splits, t.Hkv, t.B), cl::NDRange(nt, 1, 1));
  ClKernel& km = a.rt.kernel(ClProgram::AttentionSplit, d, "attention_merge");
  kernel_args(km, part, *a.dst.buf, a.dst.off, static_cast<cl_uint>(t.nq), static_cast<cl_uint>(t.H),
              static_cast<cl_uint>(t.Hkv), n_splits);
  a.rt.launch(km, cl::NDRange(t.hd / 4, t.nq * t.H, t.B));
}

}  // namespace

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
  const Att t{a,         qs[0],   qs[1], qs[2],
              ks[2],     qs[3],   ks[1], at.kv_cache ? a.step.n_past : ks[1] - qs[1],
              at.causal, at.scale};
  if (t.past + t.nq > t.n_rows)
    fail(Status::ContextFull, "attention over {} keys, but the cache holds {}", t.past + t.nq, t.n_rows);
  const bool few = t.nq * (t.H / t.Hkv) <= kMaxSplitQueries;
  const ClVariant preferred = a.rt.features.is_cpu          ? ClVariant::Stream
                              : few && t.past + t.nq >= 256 ? ClVariant::Split
                                                            : ClVariant::Flash;
  const ClVariant variant = a.rt.variant(OpKind::Attention, preferred);
  if (variant == ClVariant::Flash) return run_flash(t);
  if (variant == ClVariant::Split) return run_split(t);
  run_stream(t);
}

}  // namespace bluecl::clops
