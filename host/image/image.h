// Images for the vision path: decoding PNG and JPEG files into 8-bit interleaved RGB, and PIL-style
// bicubic resizing.
//
// Decoding sniffs the format from the magic bytes (never the extension). Alpha is composited on black,
// 16-bit samples are scaled to 8 bits, grey and palette images are expanded to RGB, CMYK JPEGs are
// converted (Adobe's inverted convention when an Adobe marker is present, as PIL does) and the EXIF
// orientation of JPEG (APP1) and PNG (eXIf) files is applied, so the result is upright.
// Errors: a missing or unreadable file -> Status::Io; an unknown or unsupported format -> Unsupported
// (naming what was seen); more than kMaxImagePixels pixels -> Unsupported, refused before any pixel
// memory is allocated; zero dimensions, truncated or corrupt data -> BadFile naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bluecl {

// 64 megapixels: a 12-bit RGBA 8000x8000 photo still fits, a hostile 100000x100000 header does not.
inline constexpr int64_t kMaxImagePixels = int64_t{64} << 20;

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3], row-major, interleaved R G B

  uint8_t* pixel(int x, int y) { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
  const uint8_t* pixel(int x, int y) const {
    return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3;
  }
};

// An image of w x h filled with one colour (black by default); w, h >= 1 and within kMaxImagePixels.
Image make_image(int width, int height, uint8_t r = 0, uint8_t g = 0, uint8_t b = 0);

Image decode_image(const std::string& path);
Image decode_image_memory(const uint8_t* data, size_t size);

// Resamples to out_w x out_h like PIL's Image.resize(BICUBIC): Keys cubic with a = -0.5, the support
// widened by the scale factor when shrinking (antialiasing), separable (horizontal pass first), each pass
// rounded and clamped to [0, 255] as PIL's 8-bit path does. Weights and sums are float.
Image resize_bicubic(const Image& src, int out_w, int out_h);

// Aspect-preserving fit into a canvas_w x canvas_h canvas: scale s = min(canvas_w / w, canvas_h / h),
// new size round(w * s) x round(h * s) (at least 1 px, at most the canvas), centred (offset floor of half
// the slack), the rest black.
Image resize_letterbox(const Image& src, int canvas_w, int canvas_h);

}  // namespace bluecl
