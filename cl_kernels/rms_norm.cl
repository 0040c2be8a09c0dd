// rms_norm: y[r, i] = x[r, i] / sqrt(mean_i(x[r]^2) + eps) * (has_w ? w[i] : 1), rows of n floats.
// Variants: rms_norm_row   one work-item walks a whole row (CPU devices: no barriers, streaming reads)
//           rms_norm_wg    one work-group of WG work-items per row, tree reduction in local memory (GPUs)
__kernel void rms_norm_row(__global const float* x, ulong x_off, __global const float* w, ulong w_off,
                           __global float* y, ulong y_off, uint n, uint rows, float eps, int has_w) {
  const uint r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = CPTR(float, x, x_off) + (size_t)r * n;
  __global float* yr = PTR(float, y, y_off) + (size_t)r * n;
  __global const float* wr = CPTR(float, w, w_off);
  float ss = 0.0f;
  for (uint i = 0; i < n; ++i) ss = fma(xr[i], xr[i], ss);
  const float inv = rsqrt(ss / n + eps);
  for (uint i = 0; i < n; ++i) yr[i] = xr[i] * inv * (has_w ? wr[i] : 1.0f);
}

#ifdef WG
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void rms_norm_wg(__global const float* x, ulong x_off, __global const float* w, ulong w_off,
                 __global float* y, ulong y_off, uint n, uint rows, float eps, int has_w) {
  __local float part[WG];
  const uint r = get_group_id(0), l = get_local_id(0);
  __global const float* xr = CPTR(float, x, x_off) + (size_t)r * n;
  __global float* yr = PTR(float, y, y_off) + (size_t)r * n;
  __global const float* wr = CPTR(float, w, w_off);
  float ss = 0.0f;
  for (uint i = l; i < n; i += WG) ss = fma(xr[i], xr[i], ss);
  const float inv = rsqrt(work_group_sum_local(part, ss, WG) / n + eps);
  for (uint i = l; i < n; i += WG) yr[i] = xr[i] * inv * (has_w ? wr[i] : 1.0f);
}
#endif
