// Test-only image encoders; see image_encode.h. Like the decoders, the functions that call setjmp hold
// only plain data, so a libpng/libjpeg error longjmps over no destructor; a failure fails the test.
#include "tests/image_encode.h"

#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <jpeglib.h>

namespace bluecl::testing {

namespace {

void on_png_write(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void on_png_flush(png_structp) {}

bool png_encode_c(png_structp png, png_infop info, const PngSpec* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, s->width, s->height, s->bit_depth, s->color_type,
               s->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s->palette.empty()) {
    png_color pal[256];
    const int n = int(s->palette.size() / 3);
    for (int i = 0; i < n; ++i) pal[i] = {s->palette[3 * i], s->palette[3 * i + 1], s->palette[3 * i + 2]};
    png_set_PLTE(png, info, pal, n);
  }
  if (!s->trns.empty()) png_set_tRNS(png, info, s->trns.data(), int(s->trns.size()), nullptr);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct JpegTestErrors {
  jpeg_error_mgr pub;
  jmp_buf jump;
};

void on_jpeg_test_error(j_common_ptr cinfo) {
  char msg[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, msg);
  std::fprintf(stderr, "test JPEG encoder: %s\n", msg);
  std::longjmp(reinterpret_cast<JpegTestErrors*>(cinfo->err)->jump, 1);
}

struct JpegJob {
  const uint8_t* pixels;
  int width, height, components, color_space, quality;
  const uint8_t* app1;
  unsigned app1_size;
  unsigned char* out;
  unsigned long out_size;
};

bool jpeg_encode_c(j_compress_ptr c, JpegTestErrors* errs, JpegJob* job) {
  if (setjmp(errs->jump)) return false;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, &job->out, &job->out_size);
  c->image_width = JDIMENSION(job->width);
  c->image_height = JDIMENSION(job->height);
  c->input_components = job->components;
  c->in_color_space = J_COLOR_SPACE(job->color_space);
  jpeg_set_defaults(c);
  jpeg_set_quality(c, job->quality, TRUE);
  jpeg_start_compress(c, TRUE);
  if (job->app1_size > 0) jpeg_write_marker(c, JPEG_APP0 + 1, job->app1, job->app1_size);
  const size_t stride = size_t(job->width) * job->components;
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(job->pixels + c->next_scanline * stride);
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return true;
}

// Byte by byte with push_back: GCC 12 warns falsely (-Wstringop-overflow) about small vector inserts.
void put_bytes(std::vector<uint8_t>& v, const void* p, size_t n) {
  for (size_t i = 0; i < n; ++i) v.push_back(static_cast<const uint8_t*>(p)[i]);
}
void put_u16(std::vector<uint8_t>& v, uint16_t x, bool le) {
  for (int i = 0; i < 2; ++i) v.push_back(uint8_t(x >> (le ? 8 * i : 8 - 8 * i)));
}
void put_u32(std::vector<uint8_t>& v, uint32_t x, bool le) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (le ? 8 * i : 24 - 8 * i)));
}

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

}  // namespace

std::vector<uint8_t> encode_png(const PngSpec& spec) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  EXPECT_TRUE(png && info);
  if (!png || !info) return out;
  png_set_write_fn(png, &out, on_png_write, on_png_flush);
  const size_t stride = spec.rows.size() / size_t(spec.height);
  std::vector<png_bytep> rows(spec.height);
  for (int y = 0; y < spec.height; ++y) rows[y] = const_cast<png_bytep>(spec.rows.data() + y * stride);
  const bool ok = png_encode_c(png, info, &spec, rows.data());
  png_destroy_write_struct(&png, &info);
  EXPECT_TRUE(ok) << "libpng could not encode the test image";
  return out;
}

std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& pixels, int width, int height, int components,
                                 int color_space, const std::vector<uint8_t>& app1, int quality) {
  jpeg_compress_struct c;
  JpegTestErrors errs;
  std::memset(&c, 0, sizeof c);
  c.err = jpeg_std_error(&errs.pub);
  errs.pub.error_exit = on_jpeg_test_error;
  JpegJob job{pixels.data(),         width,   height, components, color_space, quality, app1.data(),
              unsigned(app1.size()), nullptr, 0};
  const bool ok = jpeg_encode_c(&c, &errs, &job);
  jpeg_destroy_compress(&c);  // safe on a struct that jpeg_create_compress never finished
  std::vector<uint8_t> out;
  if (ok) out.assign(job.out, job.out + job.out_size);
  std::free(job.out);
  EXPECT_TRUE(ok) << "libjpeg could not encode the test image";
  return out;
}

std::vector<uint8_t> exif_app1(int orientation, bool le) {
  std::vector<uint8_t> v;
  put_bytes(v, "Exif\0", 6);  // the literal's own terminator is the sixth byte
  put_bytes(v, le ? "II" : "MM", 2);
  put_u16(v, 42, le);
  put_u32(v, 8, le);       // IFD0 right after the 8-byte header
  put_u16(v, 2, le);       // two entries: a harmless one first, so the parser has to walk the IFD
  put_u16(v, 0x010f, le);  // Make, ASCII, 4 bytes inline: "abc\0"
  put_u16(v, 2, le);
  put_u32(v, 4, le);
  put_bytes(v, "abc", 4);
  put_u16(v, 0x0112, le);  // Orientation, SHORT, 1 value, left-justified in the 4-byte field
  put_u16(v, 3, le);
  put_u32(v, 1, le);
  put_u16(v, uint16_t(orientation), le);
  put_u16(v, 0, le);
  put_u32(v, 0, le);  // no next IFD
  return v;
}

std::vector<uint8_t> png_chunk(const char type[4], const std::vector<uint8_t>& data) {
  std::vector<uint8_t> v;
  put_u32(v, uint32_t(data.size()), false);
  put_bytes(v, type, 4);
  put_bytes(v, data.data(), data.size());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, v.data() + 4, uInt(v.size() - 4));
  put_u32(v, uint32_t(crc), false);
  return v;
}

size_t find_png_chunk(const std::vector<uint8_t>& png, const char type[4]) {
  size_t at = 8;
  while (at + 12 <= png.size()) {
    if (std::memcmp(png.data() + at + 4, type, 4) == 0) return at;
    at += 12 + be32(png.data() + at);
  }
  return std::string::npos;
}

void fix_png_crc(std::vector<uint8_t>& png, size_t at) {
  const uint32_t len = be32(png.data() + at);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, png.data() + at + 4, uInt(len + 4));
  for (int i = 0; i < 4; ++i) png[at + 8 + len + i] = uint8_t(crc >> (24 - 8 * i));
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

}  // namespace bluecl::testing
