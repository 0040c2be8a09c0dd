// The op set: one enum, one typed attribute struct per op, and an info table. Backends switch over
// OpKind with no default (-Werror=switch), so a new op fails to build until every backend runs or
// declines it.
//
// Shapes are written outermost first, as in PyTorch: [n_tok, n_embd] has n_embd contiguous floats per
// row. Every tensor is contiguous; views (reshape, a range of rows) share their base's bytes.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

namespace bluecl {

enum class OpKind : uint8_t {
  MatMul,      // y[.., N] = x[.., K] @ W[N, K]^T (+ bias[N]); W is F32/F16/Q8_0/Q4_0
  Add,         // y = a + b; b's shape is a suffix of a's (same shape, one row, a [T, C] table over [B, T, C])
  Mul,         // y = a * b; same broadcasting as Add
  Scale,       // y = x * s
  RmsNorm,     // y = x / sqrt(mean(x^2) + eps) (* w) per row
  LayerNorm,   // y = (x - mean) / sqrt(var + eps) (* w + b) per row
  Rope,        // rotary position embedding on x[n_tok, n_head, head_dim], position = n_past + token
  SoftMax,     // y = softmax(x * scale) per row
  Attention,   // y[B, nq, H*hd] = softmax(q k^T * scale [+ causal mask]) v, GQA, optionally over a KV cache
  SiluMul,     // y = silu(gate) * up (SwiGLU)
  Gelu,        // y = gelu(x), tanh approximation or erf
  GetRows,     // y[n, D] = table[ids[n], D] as F32; table F32/F16/Q8_0/Q4_0, ids I32
  Copy,        // y = x converted to y's dtype (F32/F16/Q8_0/Q4_0 rows)
  KvWrite,     // cache[n_past + i] = src[i]: writes a chunk's K or V into a cache; y aliases the cache
  Im2Col,      // patches: image[B, C, H, W] -> [B, oh*ow, C*p*p], (c, kh, kw) order, stride = p
  Concat,      // y = concat(a, b) along an axis
  Downsample,  // 2x2 token merge: x[B, g, g, C] -> [B, ceil(g/2)^2, 4C], zero-padded odd grids
  Transfer,    // moves a tensor between devices; inserted by the scheduler, run by the executor
  Count_,
};
inline constexpr int kNumOps = static_cast<int>(OpKind::Count_);

struct MatMulAttr {
  // The activations must keep (at least) fp16-level precision: a backend may not quantise them to 8 bits
  // (the ViT: int8 weights, fp16 activations, as the paper). Otherwise it may, as llama.cpp's CPU does.
  bool precise = false;
};
struct AddAttr {};
struct MulAttr {};
struct ScaleAttr {
  float scale = 1.0f;
};
struct RmsNormAttr {
  float eps = 1e-6f;
};
struct LayerNormAttr {
  float eps = 1e-6f;
};
enum class RopeMode : uint8_t {
  Adjacent,   // rotates (x[2i], x[2i+1]): llama.cpp's "normal" mode, used by GGUF llama files
  HalfSplit,  // rotates (x[i], x[i + n_rot/2]): Hugging Face "rotate_half" (NeoX)
};
struct RopeAttr {
  RopeMode mode = RopeMode::Adjacent;
  int32_t n_rot = 0;  // rotated dims at the start of each head; the rest pass through
  float theta = 10000.0f;
};
struct SoftMaxAttr {
  float scale = 1.0f;
};
struct AttentionAttr {
  float scale = 1.0f;
  bool causal = false;
  // With a cache, k and v are the whole cache [1, n_ctx, Hkv, hd] and the keys used are rows
  // 0 .. n_past + nq - 1; query i sits at position n_past + i. Without, k and v are [B, nkv, Hkv, hd].
  bool kv_cache = false;
};
struct SiluMulAttr {};
enum class GeluMode : uint8_t { Tanh, Erf };
struct GeluAttr {
  GeluMode mode = GeluMode::Tanh;
};
struct GetRowsAttr {};
struct CopyAttr {};
struct KvWriteAttr {};
struct Im2ColAttr {
  int32_t patch = 14;
};
struct ConcatAttr {
  int32_t axis = 0;  // counted from the outermost dimension
};
struct DownsampleAttr {
  bool column_major = false;  // VILA's order: output tokens column-pair-major instead of row-major
};
struct TransferAttr {};

using OpAttr = std::variant<MatMulAttr, AddAttr, MulAttr, ScaleAttr, RmsNormAttr, LayerNormAttr, RopeAttr,
                            SoftMaxAttr, AttentionAttr, SiluMulAttr, GeluAttr, GetRowsAttr, CopyAttr,
                            KvWriteAttr, Im2ColAttr, ConcatAttr, DownsampleAttr, TransferAttr>;
static_assert(std::variant_size_v<OpAttr> == kNumOps, "one attribute struct per op, in OpKind order");

struct OpInfo {
  std::string_view name;  // file stem across the stack: cl_kernels/<name>.cl, backend/*/ops/<name>.cpp
  int min_inputs;
  int max_inputs;
};
const OpInfo& op_info(OpKind k);
inline std::string_view op_name(OpKind k) {
  return op_info(k).name;
}

// Runtime values that change between replays of one graph (a graph is built per chunk shape).
struct Step {
  int32_t n_past = 0;  // tokens already in the KV cache
};

}  // namespace bluecl
