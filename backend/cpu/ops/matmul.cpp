// y[M, N] = x[M, K] @ W[N, K]^T (+ bias). The reference: W is dequantised exactly to fp32 in tiles of
// rows and multiplied in fp32 (Eigen); one row of x takes a dequantise-and-dot path per weight row.
// The fast path (CpuPrecision::Fast) is in backend/cpu/fast_matmul.h.
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/ops/ops.h"

#include <Eigen/Core>

#include <vector>

namespace bluecl::cpu {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr int64_t kTile = 64;  // weight rows dequantised at once
}  // namespace

void matmul(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const TensorInfo& wi = a.in(1);
  const int64_t M = xi.shape.rows(), K = xi.shape.last(), N = wi.shape[0];
  const float* x = a.f(0);
  const float* bias = a.has(2) ? a.f(2) : nullptr;
  float* y = a.y();
  const auto* w = static_cast<const uint8_t*>(a.src[1]);
  const size_t w_row = wi.row_bytes();
  const DType wt = wi.dtype;

  const bool quantised = wt == DType::Q4_0 || wt == DType::Q8_0;
  const bool precise = a.n.a<MatMulAttr>().precise;
  if (a.fast && !(precise && quantised && M == 1)) {
    const MatmulArgs m{x, M, K, wt, w, w_row, N, bias, y};
    // Quantised weights multiply 8-bit activations unless the op asks for precise ones; then they are
    // dequantised into the fp32 GEMM's packed panels (the paper's int8 ViT with fp16 activations).
    if (quantised && !precise) return qmatmul(a.pool, m);
    return fmatmul(a.pool, m);
  }

  if (M == 1) {
    a.pool.parallel_for(N, [&](int64_t n0, int64_t n1, int) {
      std::vector<float> row(K);
      for (int64_t n = n0; n < n1; ++n) {
        const float* wr = reinterpret_cast<const float*>(w + n * w_row);
        if (wt != DType::F32) {
          dequantize_row(wt, w + n * w_row, row.data(), K);
          wr = row.data();
        }
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[k]) * wr[k];
        y[n] = static_cast<float>(acc) + (bias ? bias[n] : 0.0f);
      }
    });
    return;
  }

  Eigen::Map<const RowMat> X(x, M, K);
  const int64_t n_tiles = (N + kTile - 1) / kTile;
  a.pool.parallel_for(n_tiles, [&](int64_t t0, int64_t t1, int) {
    RowMat tile;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * kTile, nt = std::min(kTile, N - n0);
      Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(y + n0, M, nt, Eigen::OuterStride<>(N));
      if (wt == DType::F32) {
        Eigen::Map<const RowMat> W(reinterpret_cast<const float*>(w + n0 * w_row), nt, K);
        Y.noalias() = X * W.transpose();
      } else {
        tile.resize(nt, K);
        for (int64_t r = 0; r < nt; ++r) dequantize_row(wt, w + (n0 + r) * w_row, tile.row(r).data(), K);
        Y.noalias() = X * tile.transpose();
      }
      if (bias)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < nt; ++n) Y(m, n) += bias[n0 + n];
    }
  });
}

}  // namespace bluecl::cpu
