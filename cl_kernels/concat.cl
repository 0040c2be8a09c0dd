// concat: for each of `outer` slices, y = [a's a_in floats, b's b_in floats]. Global = (a_in + b_in, outer).
__kernel void concat(__global const float* a, ulong a_off, __global const float* b, ulong b_off,
                     __global float* y, ulong y_off, uint a_in, uint b_in) {
  const uint i = get_global_id(0), o = get_global_id(1);
  if (i >= a_in + b_in) return;
  const float v = i < a_in ? CPTR(float, a, a_off)[(size_t)o * a_in + i]
                           : CPTR(float, b, b_off)[(size_t)o * b_in + (i - a_in)];
  PTR(float, y, y_off)[(size_t)o * (a_in + b_in) + i] = v;
}
