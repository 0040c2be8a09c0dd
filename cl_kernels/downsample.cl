// downsample: 2x2 token merge x[B, g, g, C] -> y[B, h*h, 4C], h = ceil(g/2). Output token (i, j) is
// [x(2i,2j), x(2i,2j+1), x(2i+1,2j), x(2i+1,2j+1)] (zero where the grid is padded), stored at i*h + j,
// or at j*h + i with COLUMN_MAJOR=1 (VILA's order). Global = (4C, B*h*h) over output elements.
__kernel void downsample(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint g, uint C) {
  const uint e = get_global_id(0), t = get_global_id(1);
  if (e >= 4 * C) return;
  const uint h = (g + 1) / 2;
  const uint b = t / (h * h), i = (t / h) % h, j = t % h;
  const uint q = e / C, c = e % C;
  const uint r = 2 * i + q / 2, col = 2 * j + q % 2;
  const float v = (r < g && col < g) ? CPTR(float, x, x_off)[(((size_t)b * g + r) * g + col) * C + c] : 0.0f;
#if COLUMN_MAJOR
  const uint slot = j * h + i;
#else
  const uint slot = i * h + j;
#endif
  PTR(float, y, y_off)[((size_t)b * h * h + slot) * 4 * C + e] = v;
}
