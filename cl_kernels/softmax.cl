// softmax: y[r, i] = exp(s x[r, i] - max_r) / sum_i exp(s x[r, i] - max_r), rows of n floats.
// One work-item per row (rows are short where this op is used; attention has its own fused kernel).
__kernel void softmax(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint n, uint rows,
                      float s) {
  const uint r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = CPTR(float, x, x_off) + (size_t)r * n;
  __global float* yr = PTR(float, y, y_off) + (size_t)r * n;
  float mx = -INFINITY;
  for (uint i = 0; i < n; ++i) mx = fmax(mx, xr[i] * s);
  float sum = 0.0f;
  for (uint i = 0; i < n; ++i) sum += exp(xr[i] * s - mx);
  const float inv = 1.0f / sum;
  for (uint i = 0; i < n; ++i) yr[i] = exp(xr[i] * s - mx) * inv;
}
