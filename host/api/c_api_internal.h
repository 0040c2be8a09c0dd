// Shared by the C API's translation units (host/api/c_api.cpp, host/api/c_api_image.cpp): the handle structs
// behind the opaque C types, and the helpers every entry point uses: guard() turns exceptions into a
// status code and a per-thread message, need()/nonnull() reject NULL arguments, engine_options() adapts
// the model parameters (a non-zero return of the progress callback cancels with Status::Cancelled).
// Internal: not installed, not part of the public API.
#pragma once

#include "bluecl/bluecl.h"

#include "host/api/c_abi.h"

#include "graph/base/error.h"
#include "host/session/engine.h"

#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>

// The handles own the C++ objects; all locking and lifecycle is theirs (host/session/engine.h).
struct bluecl_model {
  std::unique_ptr<bluecl::Engine> e;
};

struct bluecl_session {
  std::unique_ptr<bluecl::EngineSession> s;
};

namespace bluecl::capi {

inline thread_local std::string g_last_error;

template <typename F>
bluecl_status guard(F&& f) noexcept {
  try {
    f();
    return BLUECL_OK;
  } catch (const Error& e) {
    g_last_error = e.what();
    return static_cast<bluecl_status>(e.status());
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
    return BLUECL_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_last_error = std::string("internal error: ") + e.what();
    return BLUECL_ERR_INTERNAL;
  } catch (...) {
    g_last_error = "internal error: unknown exception";
    return BLUECL_ERR_INTERNAL;
  }
}

// The pointer, checked: a NULL argument is the caller's mistake, reported as such.
template <typename T>
T* nonnull(T* p, const char* what) {
  if (!p) fail(Status::InvalidArgument, "{} is NULL", what);
  return p;
}

template <typename T>
T& need(T* p, const char* what) {
  return *nonnull(p, what);
}

inline void copy_str(char* dst, size_t cap, const std::string& s) {
  const size_t n = std::min(cap - 1, s.size());
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

inline DeviceOptions device_options(const bluecl_model_params& p) {
  return DeviceOptions{.device = p.device ? p.device : "",
                       .n_threads = p.n_threads,
                       .pins = p.pins ? p.pins : "",
                       .placement = p.placement ? p.placement : "",
                       .cpu_precision = p.exact_cpu ? CpuPrecision::Reference : CpuPrecision::Fast};
}

// The engine options of model parameters (NULL: the defaults; the size checked by read_params). A non-zero
// return of the progress callback cancels with Status::Cancelled.
inline EngineOptions engine_options(const bluecl_model_params* params) {
  const bluecl_model_params p = read_params(params, bluecl_model_default_params());
  EngineOptions o{
      .devices = device_options(p), .vocab_only = p.vocab_only != 0, .progress = {}, .release = {}};
  if (p.progress)
    o.progress = [cb = p.progress, user = p.progress_user](const char* stage, float fraction) {
      if (cb(stage, fraction, user) != 0) fail(Status::Cancelled, "cancelled during {}", stage);
    };
  return o;
}

// Copies text with its terminating NUL into a caller's buffer; *len receives the length needed.
inline void copy_text(const std::string& s, char* text, size_t capacity, size_t* len, const char* what) {
  need(len, "len") = s.size();
  if (s.size() + 1 > capacity) fail(Status::InvalidArgument, "{} needs {} bytes", what, s.size() + 1);
  std::memcpy(nonnull(text, "text"), s.c_str(), s.size() + 1);
}

}  // namespace bluecl::capi
