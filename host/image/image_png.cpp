// PNG decoding with libpng's classic API: any bit depth and colour type to 8-bit RGB, alpha composited on
// black, 16-bit samples scaled (rounded) to 8 bits, interlacing resolved, gamma ignored (as PIL does),
// eXIf orientation applied.
//
// libpng reports errors by longjmp. The functions that call setjmp (the *_c phases below) and every
// libpng callback hold only trivially destructible locals and never call code that throws, so a longjmp
// skips no C++ destructor; the C++ side owns all memory and turns a failed phase into Error(BadFile).
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/image/image_codecs.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace bluecl::detail {

namespace {

// Ancillary chunks (text, ICC profiles) larger than this are dropped with a warning, not allocated.
constexpr png_alloc_size_t kMaxChunkBytes = 8u << 20;

struct PngSource {  // plain data: libpng's callbacks reach it through void pointers
  const uint8_t* data;
  size_t size;
  size_t pos;
  char error[256];
  char warning[256];
  int n_warnings;
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->error, sizeof src->error, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  if (src->n_warnings++ == 0) std::snprintf(src->warning, sizeof src->warning, "%s", msg ? msg : "");
}

void on_png_read(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "the file is truncated");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

struct PngLayout {
  uint32_t width;
  uint32_t height;
  int channels;  // after the transforms: 3 (RGB) or 4 (RGBA)
  size_t row_bytes;
};

// Phase 1: read the chunks up to the image data and set the transforms to 8-bit RGB(A).
bool png_read_layout_c(png_structp png, png_infop info, PngLayout* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, nullptr, nullptr, nullptr);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_scale_16(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = w;
  out->height = h;
  out->channels = png_get_channels(png, info);
  out->row_bytes = png_get_rowbytes(png, info);
  return true;
}

// Phase 2: decode every row (all passes when interlaced) and the chunks after the image data.
bool png_read_rows_c(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

class PngReader {
 public:
  explicit PngReader(PngSource* src) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, on_png_error, on_png_warning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (png_ == nullptr || info_ == nullptr) {
      png_destroy_read_struct(&png_, nullptr, nullptr);  // the destructor will not run
      fail(Status::OutOfMemory, "cannot create a PNG reader");
    }
    png_set_read_fn(png_, src, on_png_read);
    png_set_chunk_malloc_max(png_, kMaxChunkBytes);
  }
  ~PngReader() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

  int exif_orientation() const {
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n = 0;
    png_bytep exif = nullptr;
    if (png_get_eXIf_1(png_, info_, &n, &exif) != 0 && exif != nullptr) {
      return detail::exif_orientation(exif, n);
    }
#endif
    return 1;
  }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// Reads the size from IHDR ourselves so a hostile size is refused before libpng allocates anything.
void check_ihdr(const uint8_t* data, size_t size) {
  if (size < 8 + 8 + 13) fail(Status::BadFile, "truncated PNG: {} bytes, no complete header", size);
  if (be32(data + 8) != 13 || std::memcmp(data + 12, "IHDR", 4) != 0) {
    fail(Status::BadFile, "corrupt PNG: the first chunk is not a 13-byte IHDR");
  }
  check_image_size(be32(data + 16), be32(data + 20));
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size) {
  check_ihdr(data, size);
  PngSource src{data, size, 0, {}, {}, 0};
  PngReader reader(&src);

  PngLayout layout{};
  if (!png_read_layout_c(reader.png(), reader.info(), &layout)) {
    fail(Status::BadFile, "corrupt PNG: {}", src.error);
  }
  check_image_size(layout.width, layout.height);
  const size_t w = layout.width, h = layout.height, ch = size_t(layout.channels);
  if ((ch != 3 && ch != 4) || layout.row_bytes != w * ch) {
    fail(Status::Unsupported, "PNG layout not handled: {} channels, {} bytes per row", ch, layout.row_bytes);
  }

  Image img;
  img.width = int(w);
  img.height = int(h);
  img.rgb.resize(w * h * 3);
  // RGB decodes in place; RGBA goes through a scratch buffer and is composited on black.
  std::vector<uint8_t> rgba(ch == 4 ? w * h * 4 : 0);
  uint8_t* pixels = ch == 4 ? rgba.data() : img.rgb.data();
  std::vector<png_bytep> rows(h);
  for (size_t y = 0; y < h; ++y) rows[y] = pixels + y * w * ch;
  if (!png_read_rows_c(reader.png(), reader.info(), rows.data())) {
    fail(Status::BadFile, "corrupt PNG: {}", src.error);
  }
  if (src.n_warnings > 0)
    log(LogLevel::Debug, "image", "PNG: {} libpng warning(s), first: {}", src.n_warnings, src.warning);

  if (ch == 4) {
    uint8_t* out = img.rgb.data();
    const uint8_t* in = rgba.data();
    for (size_t i = 0; i < w * h; ++i, in += 4, out += 3) {
      const unsigned a = in[3];
      for (int c = 0; c < 3; ++c) out[c] = uint8_t((in[c] * a + 127) / 255);  // round(v * a / 255)
    }
  }
  return apply_exif_orientation(std::move(img), reader.exif_orientation());
}

}  // namespace bluecl::detail
