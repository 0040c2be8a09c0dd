// Image decoding front door: reads the file, sniffs the format from its magic bytes, dispatches to the
// PNG or JPEG decoder, and names the file in every error. Also the EXIF orientation parser and transform
// shared by both decoders. Contract in host/image/image.h.
#include "host/image/image.h"

#include "graph/base/error.h"
#include "host/image/image_codecs.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace bluecl {

namespace {

// No PNG or JPEG that fits kMaxImagePixels needs more than this; a larger file is refused before reading.
constexpr uintmax_t kMaxImageFileBytes = uintmax_t{1} << 30;

constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint8_t kJpegMagic[3] = {0xff, 0xd8, 0xff};

bool starts_with(const uint8_t* data, size_t size, const uint8_t* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

// A short file that is the beginning of a known signature is a truncated file, not an unknown format.
bool is_prefix_of(const uint8_t* data, size_t size, const uint8_t* magic, size_t n) {
  return size < n && std::memcmp(data, magic, size) == 0;
}

bool has_text(const uint8_t* data, size_t size, size_t at, std::string_view s) {
  return size >= at + s.size() && std::memcmp(data + at, s.data(), s.size()) == 0;
}

// Names formats we recognise but do not decode, so the error says "GIF" rather than "unknown".
const char* known_unsupported_format(const uint8_t* d, size_t n) {
  if (has_text(d, n, 0, "GIF87a") || has_text(d, n, 0, "GIF89a")) return "GIF";
  if (has_text(d, n, 0, "RIFF") && has_text(d, n, 8, "WEBP")) return "WebP";
  if (has_text(d, n, 0, "II*\0") || has_text(d, n, 0, "MM\0*")) return "TIFF";
  if (has_text(d, n, 4, "ftypavif")) return "AVIF";
  if (has_text(d, n, 4, "ftyphei") || has_text(d, n, 4, "ftypmif1")) return "HEIF";
  if (has_text(d, n, 0, "BM") && n >= 14) return "BMP";
  if (has_text(d, n, 0, "qoif")) return "QOI";
  return nullptr;
}

std::string describe_bytes(const uint8_t* d, size_t n) {
  const size_t k = std::min<size_t>(n, 8);
  std::string hex, text;
  bool printable = true;
  for (size_t i = 0; i < k; ++i) {
    hex += fmt::format("{}{:02x}", i ? " " : "", d[i]);
    printable = printable && std::isprint(d[i]);
    text += char(d[i]);
  }
  return printable ? fmt::format("{} \"{}\"", hex, text) : hex;
}

Image decode_any(const uint8_t* data, size_t size) {
  if (size == 0) fail(Status::BadFile, "the file is empty");
  if (starts_with(data, size, kPngMagic, sizeof kPngMagic)) return detail::decode_png(data, size);
  if (starts_with(data, size, kJpegMagic, sizeof kJpegMagic)) return detail::decode_jpeg(data, size);
  if (is_prefix_of(data, size, kPngMagic, sizeof kPngMagic) ||
      is_prefix_of(data, size, kJpegMagic, sizeof kJpegMagic)) {
    fail(Status::BadFile, "truncated: only {} bytes", size);
  }
  if (const char* name = known_unsupported_format(data, size)) {
    fail(Status::Unsupported, "{} images are not supported (only PNG and JPEG)", name);
  }
  fail(Status::Unsupported, "unknown image format (first bytes: {}); only PNG and JPEG are supported",
       describe_bytes(data, size));
}

Image decode_named(const uint8_t* data, size_t size, const std::string& name) {
  try {
    return decode_any(data, size);
  } catch (const Error& e) {
    throw Error(e.status(), fmt::format("image {}: {}", name, e.what()));
  }
}

uint16_t read_u16(const uint8_t* p, bool le) {
  return le ? uint16_t(p[0] | p[1] << 8) : uint16_t(p[0] << 8 | p[1]);
}
uint32_t read_u32(const uint8_t* p, bool le) {
  return le ? uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24
            : uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

Image make_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  if (width < 1 || height < 1 || int64_t(width) * height > kMaxImagePixels) {
    fail(Status::InvalidArgument, "image size {}x{} outside 1..{} pixels", width, height, kMaxImagePixels);
  }
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(size_t(width) * size_t(height) * 3);
  if (r == g && g == b) {
    std::fill(img.rgb.begin(), img.rgb.end(), r);
  } else {
    for (size_t i = 0; i < img.rgb.size(); i += 3) {
      img.rgb[i] = r;
      img.rgb[i + 1] = g;
      img.rgb[i + 2] = b;
    }
  }
  return img;
}

Image decode_image_memory(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) fail(Status::InvalidArgument, "decode_image_memory: null data");
  return decode_named(data, size, "in memory");
}

Image decode_image(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(Status::Io, "image {}: no such file", path);
  if (!fs::is_regular_file(st)) fail(Status::Io, "image {}: not a regular file", path);
  const uintmax_t bytes = fs::file_size(path, ec);
  if (ec) fail(Status::Io, "image {}: cannot read its size: {}", path, ec.message());
  if (bytes > kMaxImageFileBytes) {
    fail(Status::Unsupported, "image {}: file of {} bytes exceeds the {} byte limit for images", path, bytes,
         kMaxImageFileBytes);
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(Status::Io, "image {}: cannot open: {}", path, std::strerror(errno));
  std::vector<uint8_t> buf(static_cast<size_t>(bytes));
  f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(buf.size()));
  if (size_t(f.gcount()) != buf.size()) fail(Status::Io, "image {}: read failed", path);
  return decode_named(buf.data(), buf.size(), path);
}

namespace detail {

void check_image_size(int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) fail(Status::BadFile, "zero image size {}x{}", width, height);
  // Divide rather than multiply: both factors may be near 2^32 from a hostile header.
  if (width > kMaxImagePixels || height > kMaxImagePixels / width) {
    fail(Status::Unsupported, "{}x{} image exceeds the limit of {} megapixels", width, height,
         kMaxImagePixels >> 20);
  }
}

int exif_orientation(const uint8_t* d, size_t n) {
  if (d == nullptr || n < 8) return 1;
  bool le;
  if (d[0] == 'I' && d[1] == 'I') {
    le = true;
  } else if (d[0] == 'M' && d[1] == 'M') {
    le = false;
  } else {
    return 1;
  }
  if (read_u16(d + 2, le) != 42) return 1;
  const uint32_t ifd = read_u32(d + 4, le);
  if (ifd > n || n - ifd < 2) return 1;
  const uint32_t count = read_u16(d + ifd, le);
  const size_t first = size_t(ifd) + 2;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t at = first + size_t(i) * 12;
    if (at > n || n - at < 12) break;
    const uint8_t* e = d + at;
    if (read_u16(e, le) != 0x0112) continue;
    const uint16_t type = read_u16(e + 2, le);
    const uint32_t values = read_u32(e + 4, le);
    if (values < 1) return 1;
    // SHORT is the standard type; some tools write a LONG.
    const uint32_t v = type == 3 ? read_u16(e + 8, le) : type == 4 ? read_u32(e + 8, le) : 0;
    return v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

Image apply_exif_orientation(Image src, int o) {
  if (o < 2 || o > 8) return src;
  const int w = src.width, h = src.height;
  const bool swap = o >= 5;
  Image out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.resize(src.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (o) {
        case 2:
          sx = w - 1 - x;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;
      }
      std::memcpy(out.pixel(x, y), src.pixel(sx, sy), 3);
    }
  }
  return out;
}

}  // namespace detail

}  // namespace bluecl
