// add: y[i] = a[i] + b[i % nb] for i < n. nb divides n: b repeats over a (same shape, one row, a table over a batch).
__kernel void add(__global const float* a, ulong a_off, __global const float* b, ulong b_off,
                  __global float* y, ulong y_off, uint n, uint nb) {
  const uint i = get_global_id(0);
  if (i >= n) return;
  PTR(float, y, y_off)[i] = CPTR(float, a, a_off)[i] + CPTR(float, b, b_off)[i % nb];
}
