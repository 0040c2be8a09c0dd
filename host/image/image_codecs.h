// Internal to the image decoders (host/image_*.cpp): the per-format entry points and the helpers they
// share. Decoders throw bluecl::Error with messages that do not name the file; decode_image() and
// decode_image_memory() prefix the name.
#pragma once

#include "host/image/image.h"

#include <cstddef>
#include <cstdint>

namespace bluecl::detail {

Image decode_png(const uint8_t* data, size_t size);   // data starts with the PNG signature
Image decode_jpeg(const uint8_t* data, size_t size);  // data starts with FF D8 FF

// Throws BadFile for a zero (or negative) dimension and Unsupported beyond kMaxImagePixels. Call it
// before allocating pixel memory.
void check_image_size(int64_t width, int64_t height);

// The EXIF orientation (1..8) from a TIFF-structured EXIF blob starting at its byte-order mark ("II*\0" or
// "MM\0*"); 1 when the blob is malformed or has no valid orientation tag. Reads only inside [data, size).
int exif_orientation(const uint8_t* data, size_t size);

// Applies an EXIF orientation so the image is upright (2: mirror, 3: rotate 180, 4: flip, 5: transpose,
// 6: rotate 90 clockwise, 7: transverse, 8: rotate 90 counter-clockwise); 1 or anything else: unchanged.
Image apply_exif_orientation(Image img, int orientation);

}  // namespace bluecl::detail
