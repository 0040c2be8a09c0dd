// y = silu(x @ Wg^T) * (x @ Wu^T), composed of the CPU's own paths so that it keeps their precision and
// speed: the gate matmul into y, the up matmul into a scratch of the calling thread's, then silu_mul's
// loop in place (reference or SIMD, as the backend's precision says).
#include "backend/cpu/ops/ops.h"

#include <vector>

namespace bluecl::cpu {

namespace {
// x times weight input `w` (1 gate, 2 up) into dst, as a MatMul node of the same graph.
void matmul_into(const OpArgs& a, int w, float* dst) {
  Node mm{.kind = OpKind::MatMul, .attr = MatMulAttr{}};
  mm.src[0] = a.n.src[0];
  mm.src[1] = a.n.src[w];
  mm.n_src = 2;
  mm.out = a.n.out;  // [.., N] as the matmul's output
  OpArgs m{a.g, mm, a.step, a.pool, a.fast, {a.src[0], a.src[w]}, dst};
  matmul(m);
}
}  // namespace

void swiglu(const OpArgs& a) {
  // Grown to the largest chunk seen, kept for the next call (a decode step makes one per layer).
  thread_local std::vector<float> up;
  const size_t n = static_cast<size_t>(a.out().shape.numel());
  if (up.size() < n) up.resize(n);
  matmul_into(a, 1, a.y());
  matmul_into(a, 2, up.data());
  Node act{.kind = OpKind::SiluMul, .attr = SiluMulAttr{}};
  act.src[0] = act.src[1] = act.out = a.n.out;
  act.n_src = 2;
  silu_mul(OpArgs{a.g, act, a.step, a.pool, a.fast, {a.dst, up.data()}, a.dst});
}

}  // namespace bluecl::cpu
