// gelu: y = 0.5 x (1 + erf(x / sqrt 2)) with -DGELU_ERF=1, else the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
__kernel void gelu(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint n) {
  const uint i = get_global_id(0);
  if (i >= n) return;
  const float v = CPTR(float, x, x_off)[i];
#if GELU_ERF
  PTR(float, y, y_off)[i] = 0.5f * v * (1.0f + erf(v * M_SQRT1_2_F));
#else
  PTR(float, y, y_off)[i] = 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
#endif
}
