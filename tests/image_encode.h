// Test-only PNG and JPEG encoders (libpng and libjpeg writers) and byte-level helpers for building valid
// and deliberately broken image files in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bluecl::testing {

struct PngSpec {
  int width = 0;
  int height = 0;
  int bit_depth = 8;
  int color_type = 2;  // PNG_COLOR_TYPE_*: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
  bool interlaced = false;
  std::vector<uint8_t> rows;     // packed rows as PNG stores them (16-bit samples big-endian)
  std::vector<uint8_t> palette;  // RGB triples (palette images)
  std::vector<uint8_t> trns;     // alpha per palette entry (palette images)
};
std::vector<uint8_t> encode_png(const PngSpec& spec);

// pixels: [height, width, components]; color_space: a J_COLOR_SPACE (2 RGB, 1 grey, 4 CMYK).
// app1, when not empty, is written as an APP1 segment right after the headers.
std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& pixels, int width, int height, int components,
                                 int color_space, const std::vector<uint8_t>& app1 = {}, int quality = 95);

// An APP1 payload "Exif\0\0" + TIFF header + IFD0 holding only the orientation tag.
std::vector<uint8_t> exif_app1(int orientation, bool little_endian);

// A PNG chunk (length, type, data, CRC).
std::vector<uint8_t> png_chunk(const char type[4], const std::vector<uint8_t>& data);
// Offset of the first chunk of `type` (at its length field), or npos.
size_t find_png_chunk(const std::vector<uint8_t>& png, const char type[4]);
// Recomputes the CRC of the chunk starting at `at`.
void fix_png_crc(std::vector<uint8_t>& png, size_t at);

void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace bluecl::testing
