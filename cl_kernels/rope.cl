// rope: rotary position embedding of x[n_tok, n_head, hd] (hd even) at positions n_past + t.
// Pair i < n_rot/2 turns by angle pos * theta^(-2i/n_rot):
//   HALF_SPLIT=0: elements (2i, 2i+1)        (llama.cpp "normal", GGUF llama files)
//   HALF_SPLIT=1: elements (i, i + n_rot/2)  (NeoX / Hugging Face rotate_half)
// Elements past n_rot pass through. One work-item per element pair; global = (hd/2, n_tok * n_head).
__kernel void rope(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint n_head, uint hd,
                   uint n_rot, int n_past, float log2_theta) {
  const uint i = get_global_id(0), row = get_global_id(1);
  if (i >= hd / 2) return;
  __global const float* xr = CPTR(float, x, x_off) + (size_t)row * hd;
  __global float* yr = PTR(float, y, y_off) + (size_t)row * hd;
  const uint half_rot = n_rot / 2;
  if (i >= half_rot) {
    yr[2 * i] = xr[2 * i];
    yr[2 * i + 1] = xr[2 * i + 1];
    return;
  }
  const float pos = (float)(n_past + (int)(row / n_head));
  const float angle = pos * exp2(-log2_theta * (2.0f * i / n_rot));
  const float c = cos(angle), s = sin(angle);
#if HALF_SPLIT
  const uint i0 = i, i1 = i + half_rot;
#else
  const uint i0 = 2 * i, i1 = 2 * i + 1;
#endif
  const float x0 = xr[i0], x1 = xr[i1];
  yr[i0] = x0 * c - x1 * s;
  yr[i1] = x0 * s + x1 * c;
}
