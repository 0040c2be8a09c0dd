// get_rows: y[r, k] = table[ids[r], k] as f32, ids clamped to [0, n_rows) (the host validates them).
// TTYPE: 0 F32, 1 F16 (row-major), 2 Q8_0, 3 Q4_0 (re-laid-out: quants at t + q_off, fp16 scales at
// t + s_off; see ClWeightLayout). Global = (D, n).
__kernel void get_rows(__global const uchar* t, ulong q_off, ulong s_off, __global const int* ids, ulong ids_off,
                       __global float* y, ulong y_off, uint D, uint n_rows) {
  const uint k = get_global_id(0), r = get_global_id(1);
  if (k >= D) return;
  const int raw = CPTR(int, ids, ids_off)[r];
  const uint row = (uint)clamp(raw, 0, (int)n_rows - 1);
  const size_t e = (size_t)row * D + k;
  float v;
#if TTYPE == 0
  v = CPTR(float, t, q_off)[e];
#elif TTYPE == 1
  v = vload_half(e, CPTR(half, t, q_off));
#elif TTYPE == 2
  v = vload_half(e / 32, CPTR(half, t, s_off)) * CPTR(char, t, q_off)[e];
#else
  const uint j = k % 32;
  const uchar q = CPTR(uchar, t, q_off)[(size_t)row * (D / 2) + (k / 32) * 16 + (j % 16)];
  v = vload_half(e / 32, CPTR(half, t, s_off)) * ((float)(j < 16 ? (q & 0x0f) : (q >> 4)) - 8.0f);
#endif
  PTR(float, y, y_off)[(size_t)r * D + k] = v;
}
