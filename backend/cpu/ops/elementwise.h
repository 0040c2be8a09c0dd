// Shared loop for the elementwise CPU ops: y[i] = f(a[i], b[i or i % row]) over all elements, in
// parallel; b repeats over a (b's element count divides a's: same shape, one row, a table per batch).
#pragma once

#include "backend/cpu/ops/ops.h"

namespace bluecl::cpu {

template <typename F>
void binary_rows(const OpArgs& a, F f) {
  const int64_t n = a.in(0).shape.numel();
  const int64_t nb = a.in(1).shape.numel();
  const float* x = a.f(0);
  const float* b = a.f(1);
  float* y = a.y();
  a.pool.parallel_for(
      n,
      [&](int64_t i0, int64_t i1, int) {
        if (nb == n) {
          for (int64_t i = i0; i < i1; ++i) y[i] = f(x[i], b[i]);
        } else {
          for (int64_t i = i0; i < i1; ++i) y[i] = f(x[i], b[i % nb]);
        }
      },
      kMinParallelElems);
}

template <typename F>
void unary(const OpArgs& a, F f) {
  const int64_t n = a.in(0).shape.numel();
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(
      n,
      [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) y[i] = f(x[i]);
      },
      kMinParallelElems);
}

}  // namespace bluecl::cpu
