// copy: converts rows of n elements from type ST to type DT (also used by kv_write, which writes a
// chunk's K or V into a cache at row n_past). Types: 0 F32, 1 F16, 2 Q8_0, 3 Q4_0, the quantised ones in
// GGUF block layout (activations and caches are not re-laid-out: blocks of {fp16 d; quants}).
// Quantisation matches graph/dtype.cpp's quantize_row bit for bit. One work-item per 32-element group
// (a block); n is a multiple of 32 when either side is quantised. Global = (ceil(n / 32), rows).
#define Q8_BYTES 34
#define Q4_BYTES 18

inline float load_el(__global const uchar* p, size_t e) {
#if ST == 0
  return ((__global const float*)p)[e];
#elif ST == 1
  return vload_half(e, (__global const half*)p);
#elif ST == 2
  __global const uchar* blk = p + (e / 32) * Q8_BYTES;
  return vload_half(0, (__global const half*)blk) * ((__global const char*)(blk + 2))[e % 32];
#else
  __global const uchar* blk = p + (e / 32) * Q4_BYTES;
  const uint j = e % 32;
  const uchar q = blk[2 + j % 16];
  return vload_half(0, (__global const half*)blk) * ((float)(j < 16 ? (q & 0x0f) : (q >> 4)) - 8.0f);
#endif
}

__kernel void copy(__global const uchar* x, ulong x_off, __global uchar* y, ulong y_off, uint n, uint rows) {
  const uint g = get_global_id(0), r = get_global_id(1);
  const uint k0 = g * 32;
  if (k0 >= n || r >= rows) return;
  const uint cnt = min(32u, n - k0);
  __global const uchar* xs = (__global const uchar*)x + x_off;
  __global uchar* ys = y + y_off;
  float v[32];
  for (uint j = 0; j < cnt; ++j) v[j] = load_el(xs, (size_t)r * n + k0 + j);
  const size_t e0 = (size_t)r * n + k0;
#if DT == 0
  for (uint j = 0; j < cnt; ++j) ((__global float*)ys)[e0 + j] = v[j];
#elif DT == 1
  for (uint j = 0; j < cnt; ++j) vstore_half_rte(v[j], e0 + j, (__global half*)ys);
#elif DT == 2
  float amax = 0.0f;
  for (uint j = 0; j < 32; ++j) amax = fmax(amax, fabs(v[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  __global uchar* blk = ys + (e0 / 32) * Q8_BYTES;
  vstore_half_rte(d, 0, (__global half*)blk);
  for (uint j = 0; j < 32; ++j) ((__global char*)(blk + 2))[j] = (char)round(v[j] * id);
#else
  float amax = 0.0f, mx = 0.0f;
  for (uint j = 0; j < 32; ++j) {
    if (fabs(v[j]) > amax) {
      amax = fabs(v[j]);
      mx = v[j];
    }
  }
  const float d = mx / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  __global uchar* blk = ys + (e0 / 32) * Q4_BYTES;
  vstore_half_rte(d, 0, (__global half*)blk);
  for (uint j = 0; j < 16; ++j) {
    const uint q0 = min(15, (int)(v[j] * id + 8.5f));
    const uint q1 = min(15, (int)(v[j + 16] * id + 8.5f));
    blk[2 + j] = (uchar)(q0 | (q1 << 4));
  }
#endif
}
