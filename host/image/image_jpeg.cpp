// JPEG decoding with libjpeg(-turbo): greyscale, YCbCr and RGB to 8-bit RGB; CMYK and YCCK converted to
// RGB (Adobe's inverted CMYK when an Adobe marker is present, as PIL assumes); EXIF orientation (APP1)
// applied. Truncated or corrupt entropy data is an error, not a grey-filled image: libjpeg only warns
// about it, so those warnings are promoted to errors. Progressive files are limited to kMaxScans scans,
// which stops the many-scans denial of service.
//
// libjpeg reports errors through error_exit, which here longjmps. The functions that call setjmp (the *_c
// phases below) and every callback hold only trivially destructible locals and never call code that
// throws, so a longjmp skips no C++ destructor; the C++ side owns all memory and turns a failed phase
// into Error(BadFile).
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/image/image_codecs.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

// jpeglib.h needs size_t and FILE declared first; jerror.h needs jpeglib.h.
#include <jpeglib.h>

#include <jerror.h>

namespace bluecl::detail {

namespace {

constexpr int kMaxScans = 500;

struct JpegErrors {
  jpeg_error_mgr pub;  // first, so libjpeg's j_common_ptr->err can be cast back
  jmp_buf jump;
  char error[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
  int n_warnings;
};

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  auto* errs = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errs->error);
  std::longjmp(errs->jump, 1);
}

// Warnings that mean the pixels are wrong (missing or undecodable data) become errors.
bool is_data_warning(int code) {
  return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_MUST_RESYNC;
}

void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* errs = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (is_data_warning(cinfo->err->msg_code)) on_jpeg_error(cinfo);
  if (errs->n_warnings++ == 0) (*cinfo->err->format_message)(cinfo, errs->warning);
}

void on_jpeg_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) {
    auto* errs = reinterpret_cast<JpegErrors*>(cinfo->err);
    std::snprintf(errs->error, sizeof errs->error, "more than %d progressive scans", kMaxScans);
    std::longjmp(errs->jump, 1);
  }
}

struct JpegLayout {
  uint32_t width;
  uint32_t height;
  int components;  // of the output: 3 (RGB) or 4 (CMYK)
  bool adobe_cmyk_inverted;
  int orientation;
};

bool jpeg_create_c(j_decompress_ptr d, JpegErrors* errs) {
  if (setjmp(errs->jump)) return false;
  jpeg_create_decompress(d);
  return true;
}

int orientation_from_markers(j_decompress_ptr d) {
  for (jpeg_saved_marker_ptr m = d->marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      return exif_orientation(m->data + 6, m->data_length - 6);
    }
  }
  return 1;
}

// Phase 1: parse the headers and choose the output colour space; allocates no pixel memory.
bool jpeg_read_layout_c(j_decompress_ptr d, JpegErrors* errs, const uint8_t* data, size_t size,
                        JpegLayout* out) {
  if (setjmp(errs->jump)) return false;
  jpeg_mem_src(d, data, static_cast<unsigned long>(size));
  jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(d, TRUE);
  switch (d->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
      d->out_color_space = JCS_RGB;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d->out_color_space = JCS_CMYK;
      break;
    default:
      d->out_color_space = JCS_UNKNOWN;
      break;
  }
  out->width = d->image_width;
  out->height = d->image_height;
  out->components = d->out_color_space == JCS_RGB ? 3 : d->out_color_space == JCS_CMYK ? 4 : 0;
  out->adobe_cmyk_inverted = d->saw_Adobe_marker != 0;
  out->orientation = orientation_from_markers(d);
  return true;
}

// Phase 2: decode every scanline into `pixels`, laid out as the header promised.
bool jpeg_read_rows_c(j_decompress_ptr d, JpegErrors* errs, uint8_t* pixels, const JpegLayout* layout) {
  if (setjmp(errs->jump)) return false;
  jpeg_start_decompress(d);
  if (d->output_width != layout->width || d->output_height != layout->height ||
      d->output_components != layout->components) {
    std::snprintf(errs->error, sizeof errs->error, "output layout %ux%ux%d differs from the header's",
                  d->output_width, d->output_height, d->output_components);
    return false;
  }
  const size_t stride = size_t(layout->width) * size_t(layout->components);
  while (d->output_scanline < d->output_height) {
    JSAMPROW row = pixels + size_t(d->output_scanline) * stride;
    if (jpeg_read_scanlines(d, &row, 1) != 1) {
      std::snprintf(errs->error, sizeof errs->error, "decoder suspended at row %u", d->output_scanline);
      return false;
    }
  }
  jpeg_finish_decompress(d);
  return true;
}

// Owns the decompressor. Not movable: libjpeg keeps pointers to the error and progress managers.
class JpegReader {
 public:
  JpegReader() {
    std::memset(&errs_, 0, sizeof errs_);
    std::memset(&progress_, 0, sizeof progress_);
    std::memset(&d_, 0, sizeof d_);
    d_.err = jpeg_std_error(&errs_.pub);
    errs_.pub.error_exit = on_jpeg_error;
    errs_.pub.emit_message = on_jpeg_message;
    if (!jpeg_create_c(&d_, &errs_)) {
      jpeg_destroy_decompress(&d_);  // frees a partial creation; the destructor will not run
      fail(Status::OutOfMemory, "cannot create a JPEG reader: {}", errs_.error);
    }
    created_ = true;
    progress_.progress_monitor = on_jpeg_progress;
    d_.progress = &progress_;
  }
  ~JpegReader() {
    if (created_) jpeg_destroy_decompress(&d_);
  }
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;

  j_decompress_ptr d() { return &d_; }
  JpegErrors* errs() { return &errs_; }

 private:
  jpeg_decompress_struct d_;
  JpegErrors errs_;
  jpeg_progress_mgr progress_;
  bool created_ = false;
};

void cmyk_to_rgb(const uint8_t* cmyk, size_t n_pixels, bool inverted, uint8_t* rgb) {
  for (size_t i = 0; i < n_pixels; ++i, cmyk += 4, rgb += 3) {
    // Inverted (Adobe) data stores 255 - ink, so the ink-free fraction is the stored value itself.
    const unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
    for (int c = 0; c < 3; ++c) {
      const unsigned v = inverted ? cmyk[c] : 255u - cmyk[c];
      rgb[c] = uint8_t((v * k + 127) / 255);
    }
  }
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size) {
  JpegReader reader;
  JpegLayout layout{};
  if (!jpeg_read_layout_c(reader.d(), reader.errs(), data, size, &layout)) {
    fail(Status::BadFile, "corrupt JPEG: {}", reader.errs()->error);
  }
  check_image_size(layout.width, layout.height);
  if (layout.components == 0) {
    fail(Status::Unsupported, "JPEG colour space {} with {} components is not supported",
         int(reader.d()->jpeg_color_space), reader.d()->num_components);
  }

  const size_t w = layout.width, h = layout.height, ch = size_t(layout.components);
  Image img;
  img.width = int(w);
  img.height = int(h);
  img.rgb.resize(w * h * 3);
  std::vector<uint8_t> cmyk(ch == 4 ? w * h * 4 : 0);
  uint8_t* pixels = ch == 4 ? cmyk.data() : img.rgb.data();
  if (!jpeg_read_rows_c(reader.d(), reader.errs(), pixels, &layout)) {
    fail(Status::BadFile, "corrupt JPEG: {}", reader.errs()->error);
  }
  if (reader.errs()->n_warnings > 0) {
    log(LogLevel::Debug, "image", "JPEG: {} libjpeg warning(s), first: {}", reader.errs()->n_warnings,
        reader.errs()->warning);
  }
  if (ch == 4) cmyk_to_rgb(cmyk.data(), w * h, layout.adobe_cmyk_inverted, img.rgb.data());
  return apply_exif_orientation(std::move(img), layout.orientation);
}

}  // namespace bluecl::detail
