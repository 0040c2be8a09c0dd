// im2col: y[b, py*ow + px, (c*p + ky)*p + kx] = image[b, c, py*p + ky, px*p + kx], non-overlapping
// patches (stride = p), PyTorch conv weight order (c, kh, kw). Global = (C*p*p, B*oh*ow).
__kernel void im2col(__global const float* x, ulong x_off, __global float* y, ulong y_off, uint C, uint H,
                     uint W, uint p) {
  const uint col = get_global_id(0), r = get_global_id(1);
  const uint cols = C * p * p;
  if (col >= cols) return;
  const uint oh = H / p, ow = W / p;
  const uint b = r / (oh * ow), py = (r / ow) % oh, px = r % ow;
  const uint c = col / (p * p), ky = (col / p) % p, kx = col % p;
  PTR(float, y, y_off)[(size_t)r * cols + col] =
      CPTR(float, x, x_off)[(((size_t)b * C + c) * H + py * p + ky) * W + px * p + kx];
}
