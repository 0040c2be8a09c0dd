// How the C API reads the params structs callers hand it (bluecl.h, "Versions and the ABI"). Each struct
// starts with struct_size; ParamsAbi<T> lists the layouts this library knows, one per ABI version in which
// the struct changed, oldest first: the struct's size in that version and how many of its bytes were
// fields (an older struct's tail padding may be where a newer field now lives, so only `used` bytes are
// taken from the caller; everything after them keeps its default). A size not in the list is refused.
//
// Growing a struct: copy its present definition here as `<name>_v<ABI>` (frozen), put
// {sizeof(frozen), offsetof(frozen, last field) + sizeof(last field)} before the current entry, append the
// field in bluecl.h (never insert), give it a default in *_default_params(), raise BLUECL_ABI_VERSION. The
// sizes must stay distinct (checked below): if the new field fits the old tail padding, add an explicit
// padding field so that sizeof grows. bluecl_sampler_params is embedded in bluecl_generate_params, so a
// sampling field goes at the end of bluecl_sampler_params only together with a generate layout that moves
// the fields after it (read that version field by field, not with read_params).
// Internal: not installed, not part of the public API.
#pragma once

#include "bluecl/bluecl.h"

#include "graph/base/error.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace bluecl::capi {

struct ParamsLayout {
  uint32_t size;  // sizeof the struct in that ABI version
  uint32_t used;  // bytes of it that are fields (the rest is tail padding)
};

template <typename T>
struct ParamsAbi;  // name and layouts, per struct

#define BLUECL_PARAMS_ABI(T)                                                    \
  template <>                                                                   \
  struct ParamsAbi<T> {                                                         \
    static constexpr const char* name = #T;                                     \
    static constexpr ParamsLayout layouts[] = {{sizeof(T), sizeof(T)}}; /* 1 */ \
  }
BLUECL_PARAMS_ABI(bluecl_model_params);
BLUECL_PARAMS_ABI(bluecl_session_params);
BLUECL_PARAMS_ABI(bluecl_sampler_params);
BLUECL_PARAMS_ABI(bluecl_generate_params);
BLUECL_PARAMS_ABI(bluecl_grid_params);
BLUECL_PARAMS_ABI(bluecl_tune_params);
#undef BLUECL_PARAMS_ABI

constexpr bool distinct_sizes(std::span<const ParamsLayout> layouts) {
  for (size_t i = 0; i < layouts.size(); ++i)
    for (size_t j = i + 1; j < layouts.size(); ++j)
      if (layouts[i].size == layouts[j].size) return false;
  return true;
}

// The caller's struct as this library's T: NULL gives `defaults`; a known older layout gives its fields
// over `defaults`; an unknown struct_size throws InvalidArgument naming the struct and the sizes.
template <typename T>
T read_params(const T* p, const T& defaults, const char* name, std::span<const ParamsLayout> layouts) {
  if (!p) return defaults;
  const uint32_t size = p->struct_size;
  for (const ParamsLayout& l : layouts)
    if (l.size == size) {
      T out = defaults;
      std::memcpy(static_cast<void*>(&out), p, l.used);
      out.struct_size = sizeof(T);
      return out;
    }
  const std::string_view stem = std::string_view(name).substr(0, std::strlen(name) - std::strlen("_params"));
  fail(Status::InvalidArgument,
       "{}.struct_size is {}, a size this library (ABI {}, {} bytes) does not know{}: fill the struct with "
       "{}_default_params() and set fields by name",
       name, size, BLUECL_ABI_VERSION, sizeof(T),
       size > sizeof(T) ? " (was the program built against a newer bluecl.h than the library?)" : "", stem);
}

template <typename T>
T read_params(const T* p, const T& defaults) {
  static_assert(distinct_sizes(ParamsAbi<T>::layouts), "two layouts of one params struct share a size");
  static_assert(std::span(ParamsAbi<T>::layouts).back().size == sizeof(T),
                "the last layout is the current one");
  return read_params(p, defaults, ParamsAbi<T>::name, ParamsAbi<T>::layouts);
}

}  // namespace bluecl::capi
