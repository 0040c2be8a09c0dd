// Helpers prepended to every program in cl_kernels/. Build options select variants:
//   HAS_FP16      the device has cl_khr_fp16 (half arithmetic)
//   HAS_SUBGROUPS the device has cl_khr_subgroups or cl_intel_subgroups
// Buffers are passed as (pointer, byte offset) pairs; PTR() applies the offset.
#define PTR(T, p, off) ((__global T*)((__global char*)(p) + (off)))
#define CPTR(T, p, off) ((__global const T*)((__global const char*)(p) + (off)))

#ifdef KTYPE
// Four consecutive values, from element e on, of a K or V cache (attention kernels): KTYPE 0 F32, 1 F16,
// 2 Q8_0 in GGUF blocks of 34 bytes (an fp16 scale, 32 int8) along the head dim.
inline float4 load_kv4(__global const uchar* base, size_t e) {
#if KTYPE == 0
  return vload4(0, (__global const float*)base + e);
#elif KTYPE == 1
  return vload_half4(0, (__global const half*)base + e);
#else
  __global const uchar* blk = base + (e / 32) * 34;
  const float d = vload_half(0, (__global const half*)blk);
  return convert_float4(vload4(0, (__global const char*)(blk + 2) + (e - (e / 32) * 32))) * d;
#endif
}
#endif

#if defined(BM) && defined(BN)
// Tiled matmuls (matmul_tile.cl, matmul_dot.cl): a BM x BN tile per work-group of WX x WY work-items.
#define WX (BN / TN)
#define WY (BM / TM)
// The TM x TN outputs of one work-item of a tiled matmul (matmul_tile.cl, matmul_dot.cl): rows m + i * WY,
// columns n + j * WX of y [M, N], plus bias[n] when has_bias; nothing past M or N.
inline void store_tile(__global float* y, __global const float* bias, int has_bias, uint m, uint n, uint M, uint N,
                       float acc[TM][TN]) {
  for (int i = 0; i < TM; ++i) {
    if (m + i * WY >= M) break;
    for (int j = 0; j < TN; ++j) {
      const uint c = n + j * WX;
      if (c < N) y[(size_t)(m + i * WY) * N + c] = acc[i][j] + (has_bias ? bias[c] : 0.0f);
    }
  }
}
#endif
