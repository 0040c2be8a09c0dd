// limits: the device's memory bandwidth and FMA rate, measured by kernels that do nothing else.
//   read_chunked / copy_chunked: each work-item streams its own contiguous chunk (CPU devices)
//   read_strided / copy_strided: neighbouring work-items touch neighbouring float4s (GPUs: coalesced)
//   fma_peak: 8 independent float8 FMA chains per work-item, iters times
// n4 is the number of float4s; chunk = n4 / global size.
__kernel void read_chunked(__global const float4* x, ulong chunk, __global float* out) {
  const size_t g = get_global_id(0);
  __global const float4* p = x + g * chunk;
  float4 a = 0, b = 0, c = 0, d = 0;
  for (ulong i = 0; i + 4 <= chunk; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  const float4 s = a + b + c + d;
  out[g] = s.x + s.y + s.z + s.w;
}

__kernel void read_strided(__global const float4* x, ulong n4, __global float* out) {
  const size_t g = get_global_id(0), stride = get_global_size(0);
  float4 a = 0;
  for (size_t i = g; i < n4; i += stride) a += x[i];
  out[g] = a.x + a.y + a.z + a.w;
}

__kernel void copy_chunked(__global const float4* x, __global float4* y, ulong chunk) {
  const size_t base = get_global_id(0) * chunk;
  for (ulong i = 0; i < chunk; ++i) y[base + i] = x[base + i];
}

__kernel void copy_strided(__global const float4* x, __global float4* y, ulong n4) {
  const size_t stride = get_global_size(0);
  for (size_t i = get_global_id(0); i < n4; i += stride) y[i] = x[i];
}

// Eight independent float8 chains per work-item: wide enough for a CPU's SIMD units (PoCL does not
// vectorise this loop across work-items) and enough chains to hide the FMA latency.
__kernel void fma_peak(__global float* out, int iters, float m, float s) {
  const float8 mm = (float8)m, ss = (float8)s;
  float8 v0 = (float8)(get_global_id(0)), v1 = v0 + 1, v2 = v0 + 2, v3 = v0 + 3, v4 = v0 + 4, v5 = v0 + 5,
         v6 = v0 + 6, v7 = v0 + 7;
  for (int i = 0; i < iters; ++i) {
    v0 = fma(v0, mm, ss); v1 = fma(v1, mm, ss); v2 = fma(v2, mm, ss); v3 = fma(v3, mm, ss);
    v4 = fma(v4, mm, ss); v5 = fma(v5, mm, ss); v6 = fma(v6, mm, ss); v7 = fma(v7, mm, ss);
  }
  const float8 t = v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
  out[get_global_id(0)] = t.s0 + t.s1 + t.s2 + t.s3 + t.s4 + t.s5 + t.s6 + t.s7;
}
