// scale: y[i] = x[i] * s for i < n.
__kernel void scale(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint n, float s) {
  const uint i = get_global_id(0);
  if (i >= n) return;
  PTR(float, y, y_off)[i] = CPTR(float, x, x_off)[i] * s;
}
