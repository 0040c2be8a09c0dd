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

#ifdef NB
// CPU-style GEMV rows over quantised weights (matmul_rows.cl, swiglu.cl's swiglu_rows): NB = K / 32 blocks
// per row, fp16 scales converted 16 at a time, 16-wide sums.
// Exact fp16 -> fp32 for 16 values (normals, subnormals and zeros; scales are never inf or NaN).
inline float16 halves_to_floats(ushort16 h) {
  const uint16 u = convert_uint16(h);
  const uint16 sign = (u & (uint16)0x8000u) << 16;
  const uint16 em = u & (uint16)0x7fffu;
  const float16 normal = as_float16(sign | ((em << 13) + (uint16)(112u << 23)));
  const float16 sub = as_float16(sign | as_uint16(convert_float16(em) * 5.9604645e-8f));
  return select(normal, sub, convert_int16(em < (uint16)0x400u));
}

// This row's NB scales as floats.
inline void row_scales(__global const ushort* sc, size_t row, float* ds) {
  for (int b = 0; b < NB; b += 16) {
    ushort16 h;
    if (b + 16 <= NB) {
      h = vload16(0, sc + row * NB + b);
    } else {
      ushort t[16];
      for (int i = 0; i < 16; ++i) t[i] = b + i < NB ? sc[row * NB + b + i] : 0;
      h = vload16(0, t);
    }
    vstore16(halves_to_floats(h), 0, ds + b);
  }
}

inline float hsum16(float16 v) {
  const float8 s8 = v.lo + v.hi;
  const float4 s4 = s8.lo + s8.hi;
  return s4.x + s4.y + s4.z + s4.w;
}

// Sums of the 32 x values of each block (Q4_0: sum((q - 8) x) = sum(q x) - 8 sum(x) per block, so the
// block loop needs no subtraction; the -8 term is one dot product of the row's scales with these sums).
inline void block_sums(__global const float* xr, float* xs) {
  for (int b = 0; b < (NB + 15) / 16 * 16; ++b) {
    xs[b] = 0.0f;
    if (b < NB) {
      const float16 v = vload16(0, xr + b * 32) + vload16(1, xr + b * 32);
      xs[b] = hsum16(v);
    }
  }
}

// Block b of a weight row times x's 32 values, 16 lanes wide (before the block's scale; Q4_0 without -8).
inline float16 block_dot(__global const uchar* w, ulong wq_off, uint row, int b, __global const float* xr) {
  const float16 xl = vload16(0, xr + b * 32), xh = vload16(1, xr + b * 32);
#if WTYPE == 3
  const uchar16 q = vload16(b, CPTR(uchar, w, wq_off) + (size_t)row * NB * 16);
  return convert_float16(q & (uchar16)0x0f) * xl + convert_float16(q >> (uchar16)4) * xh;
#else
  __global const char* qrow = CPTR(char, w, wq_off) + (size_t)row * NB * 32;
  return convert_float16(vload16(2 * b, qrow)) * xl + convert_float16(vload16(2 * b + 1, qrow)) * xh;
#endif
}
#endif

#ifdef LANES
// GPU-style GEMV (matmul_vec.cl, swiglu.cl's swiglu_vec): a weight row read in 16-byte chunks of CHUNK
// weights (F32 4, F16 8, Q8_0 16 = half a block, Q4_0 16 bytes = one block of 32), x loaded to match.
#if WTYPE == 0
#define CHUNK 4
#define VEC float4
#elif WTYPE == 1
#define CHUNK 8
#define VEC float8
#else
#define CHUNK 16
#define VEC float16
#endif

inline float hsum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }
inline float hsum_vec(VEC v) {
#if CHUNK == 16
  const float8 s = v.lo + v.hi;
  return hsum4(s.lo + s.hi);
#elif CHUNK == 8
  return hsum4(v.lo + v.hi);
#else
  return hsum4(v);
#endif
}

// The x values that meet chunk c of a row: for Q4_0 two runs of 16 (low and high nibbles of the block),
// else one run of CHUNK; zero past K (F32/F16 tails).
#if WTYPE == 3
inline void load_x(__global const float* xr, uint c, uint K, float16* lo, float16* hi) {
  *lo = vload16(0, xr + c * 32);
  *hi = vload16(1, xr + c * 32);
}
#else
inline VEC load_x(__global const float* xr, uint c, uint K) {
  const uint k = c * CHUNK;
#if CHUNK == 16
  return vload16(0, xr + k);  // Q8_0: K is a multiple of 32
#else
  if (k + CHUNK <= K) {
#if CHUNK == 8
    return vload8(0, xr + k);
#else
    return vload4(0, xr + k);
#endif
  }
  float t[CHUNK];
  for (uint i = 0; i < CHUNK; ++i) t[i] = k + i < K ? xr[k + i] : 0.0f;
#if CHUNK == 8
  return vload8(0, t);
#else
  return vload4(0, t);
#endif
#endif
}
#endif
#endif

// The sum of v over a 1-D work-group of `n` work-items (a power of two), through part[n] in local memory,
// returned to every work-item. part[] may be reused as soon as this returns (the last barrier).
inline float work_group_sum_local(__local float* part, float v, uint n) {
  const uint l = get_local_id(0);
  part[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = n / 2; s > 0; s >>= 1) {
    if (l < s) part[l] += part[l + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float total = part[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}
