// layer_norm: y[r, i] = (x[r, i] - mean_r) / sqrt(var_r + eps) * (has_w ? w[i] : 1) + (has_b ? b[i] : 0),
// rows of n floats, biased variance (PyTorch's LayerNorm).
// Variants: layer_norm_row (one work-item per row; CPU devices), layer_norm_wg (a work-group per row).
__kernel void layer_norm_row(__global const float* x, ulong x_off, __global const float* w, ulong w_off,
                             __global const float* b, ulong b_off, __global float* y, ulong y_off, uint n,
                             uint rows, float eps, int has_w, int has_b) {
  const uint r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = CPTR(float, x, x_off) + (size_t)r * n;
  __global float* yr = PTR(float, y, y_off) + (size_t)r * n;
  float sum = 0.0f;
  for (uint i = 0; i < n; ++i) sum += xr[i];
  const float mean = sum / n;
  float var = 0.0f;
  for (uint i = 0; i < n; ++i) var = fma(xr[i] - mean, xr[i] - mean, var);
  const float inv = rsqrt(var / n + eps);
  __global const float* wr = CPTR(float, w, w_off);
  __global const float* br = CPTR(float, b, b_off);
  for (uint i = 0; i < n; ++i)
    yr[i] = (xr[i] - mean) * inv * (has_w ? wr[i] : 1.0f) + (has_b ? br[i] : 0.0f);
}

#ifdef WG
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void layer_norm_wg(__global const float* x, ulong x_off, __global const float* w, ulong w_off,
                   __global const float* b, ulong b_off, __global float* y, ulong y_off, uint n, uint rows,
                   float eps, int has_w, int has_b) {
  __local float part[WG];
  const uint r = get_group_id(0), l = get_local_id(0);
  __global const float* xr = CPTR(float, x, x_off) + (size_t)r * n;
  __global float* yr = PTR(float, y, y_off) + (size_t)r * n;
  float s = 0.0f;
  for (uint i = l; i < n; i += WG) s += xr[i];
  const float mean = work_group_sum_local(part, s, WG) / n;
  float v = 0.0f;
  for (uint i = l; i < n; i += WG) v = fma(xr[i] - mean, xr[i] - mean, v);
  const float inv = rsqrt(work_group_sum_local(part, v, WG) / n + eps);
  __global const float* wr = CPTR(float, w, w_off);
  __global const float* br = CPTR(float, b, b_off);
  for (uint i = l; i < n; i += WG)
    yr[i] = (xr[i] - mean) * inv * (has_w ? wr[i] : 1.0f) + (has_b ? br[i] : 0.0f);
}
#endif
