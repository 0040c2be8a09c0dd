// limits: the device's memory bandwidth and FMA rate, measured by kernels that do nothing else.
//   read_chunked / copy_chunked: each work-item streams its own contiguous chunk (CPU devices)
//   read_strided / copy_strided: neighbouring work-items touch neighbouring float4s (GPUs: coalesced)
//   fma_peak: 16 independent float4 FMA chains per work-item, ITERS times
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

__kernel void fma_peak(__global float* out, int iters, float m, float s) {
  float4 v[16];
  for (int k = 0; k < 16; ++k) v[k] = (float4)(get_global_id(0) + k);
  for (int i = 0; i < iters; ++i)
    for (int k = 0; k < 16; ++k) v[k] = fma(v[k], (float4)m, (float4)s);
  float4 t = 0;
  for (int k = 0; k < 16; ++k) t += v[k];
  out[get_global_id(0)] = t.x + t.y + t.z + t.w;
}
