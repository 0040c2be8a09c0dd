// The op set, generated from the op list graph/ops.def (one row per op): the OpKind enum, one typed
// attribute struct per op (<Kind>Attr: those with fields are defined here, the empty ones generated), the
// OpAttr variant in OpKind order, and the info table (graph.cpp, checked at compile time). Backends
// dispatch over the same list, so a new op fails to link until every backend runs it or declines it.
//
// Shapes are written outermost first, as in PyTorch: [n_tok, n_embd] has n_embd contiguous floats per
// row. Every tensor is contiguous; views (reshape, a range of rows) share their base's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <variant>

namespace bluecl {

enum class OpKind : uint8_t {
#define BLUECL_OP(Kind, ...) Kind,
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"
  Count_,
};
inline constexpr int kNumOps = static_cast<int>(OpKind::Count_);

struct MatMulAttr {
  // The activations must keep (at least) fp16-level precision: a backend may not quantise them to 8 bits
  // (the ViT: int8 weights, fp16 activations, as the paper). Otherwise it may, as llama.cpp's CPU does.
  bool precise = false;
};
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
enum class GeluMode : uint8_t { Tanh, Erf };
struct GeluAttr {
  GeluMode mode = GeluMode::Tanh;
};
struct Im2ColAttr {
  int32_t patch = 14;
};
struct ConcatAttr {
  int32_t axis = 0;  // counted from the outermost dimension
};
struct DownsampleAttr {
  bool column_major = false;  // VILA's order: output tokens column-pair-major instead of row-major
};
// The attribute structs of the ops whose row says `none`.
#define BLUECL_ATTR_none(Kind) \
  struct Kind##Attr {};
#define BLUECL_ATTR_fields(Kind)
#define BLUECL_OP(Kind, stem, attr, ...) BLUECL_ATTR_##attr(Kind)
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"
#undef BLUECL_ATTR_none
#undef BLUECL_ATTR_fields

namespace detail {
template <typename Ignored, typename... A>
struct VariantOfRest {
  using type = std::variant<A...>;
};
}  // namespace detail

// Alternative i is the attribute struct of OpKind i.
using OpAttr = detail::VariantOfRest<void
#define BLUECL_OP(Kind, ...) , Kind##Attr
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"
                                     >::type;
static_assert(std::variant_size_v<OpAttr> == kNumOps, "one attribute struct per op, in OpKind order");
#define BLUECL_OP(Kind, ...) \
  static_assert(             \
      std::is_same_v<std::variant_alternative_t<static_cast<size_t>(OpKind::Kind), OpAttr>, Kind##Attr>);
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"

// How an op's work is counted (the `work` column of graph/ops.def; host/runtime/cost_model.cpp).
enum class WorkRule : uint8_t {
  Memory,  // reads its inputs, writes its output
  // x[.., K] times each [N, K] matrix input from input 1 on: output column n reads row n of each matrix
  // (and element n of a vector input), so a backend may run it per range of weight rows (split weights)
  Linear,
  Attention,
  Gather,      // get_rows: only the rows asked for
  CacheWrite,  // kv_write: the chunk's rows of the cache
};

struct OpInfo {
  OpKind kind;
  std::string_view name;  // file stem across the stack: cl_kernels/<name>.cl, backend/*/ops/<name>.cpp
  int min_inputs;
  int max_inputs;
  WorkRule work;
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
