// silu_mul (SwiGLU): y[i] = g[i] / (1 + exp(-g[i])) * u[i] for i < n.
__kernel void silu_mul(__global const float* g, ulong g_off, __global const float* u, ulong u_off,
                       __global float* y, ulong y_off, uint n) {
  const uint i = get_global_id(0);
  if (i >= n) return;
  const float v = CPTR(float, g, g_off)[i];
  PTR(float, y, y_off)[i] = v / (1.0f + exp(-v)) * CPTR(float, u, u_off)[i];
}
