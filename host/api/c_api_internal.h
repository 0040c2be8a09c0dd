// Shared by the C API's translation units (host/api/c_api.cpp, host/api/c_api_image.cpp): the handle structs
// behind the opaque C types, and the helpers every entry point uses: guard() turns exceptions into a
// status code and a per-thread message, need()/nonnull() reject NULL arguments, progress_of() adapts the
// model's progress callback (a non-zero return cancels with Status::Cancelled).
// Internal: not installed, not part of the public API.
#pragma once

#include "bluecl/bluecl.h"

#include "graph/base/error.h"
#include "host/model/llm_model.h"
#include "host/model/vit_model.h"
#include "host/runtime/devices.h"
#include "host/session/async_encode.h"
#include "host/session/session.h"
#include "host/session/vision.h"

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>

struct bluecl_model {
  std::unique_ptr<bluecl::LlmModel> llm;     // null for a vision-only model (bluecl_model_load_vision)
  std::unique_ptr<bluecl::Devices> devices;  // the language model's
  std::mutex run_mu;                         // serialises everything that runs the language model
  bluecl_progress_callback progress = nullptr;
  void* progress_user = nullptr;
  bluecl::DeviceOptions device_options;  // what the model was loaded with (the vision devices copy it)

  // The vision tower (bluecl_model_load_mmproj) runs on devices of its own, so that an image can be
  // encoded on the worker while the language model prefills text. The encoder is rebuilt when the batch
  // size changes. vision_mu guards vit, vision and vision_devices; the worker holds it while encoding.
  std::mutex vision_mu;
  std::unique_ptr<bluecl::Devices> vision_devices;
  std::unique_ptr<bluecl::VitModel> vit;
  std::unique_ptr<bluecl::VisionEncoder> vision;
  int32_t vision_batch = 4;
  bluecl::VisionPipeline vision_pipeline = bluecl::VisionPipeline::Auto;
  bool release_vision = true;  // free the tower's weights whenever the encode queue runs empty
  bool vision_released = false;
  // Declared last: destroyed first, so no encode runs while the rest goes away.
  std::unique_ptr<bluecl::VisionWorker> worker;
};

struct bluecl_session {
  bluecl_model* model;
  std::unique_ptr<bluecl::Session> s;
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

// The model's language model; a vision-only model has none.
inline const LlmModel& need_llm(const bluecl_model& m) {
  if (!m.llm)
    fail(Status::InvalidArgument,
         "this model has no language model (it was loaded with bluecl_model_load_vision)");
  return *m.llm;
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

// A new model handle with the parameters' progress callback and device options (nothing loaded yet).
inline std::unique_ptr<bluecl_model> new_model(const bluecl_model_params* params) {
  const bluecl_model_params p = params ? *params : bluecl_model_params{};
  auto m = std::make_unique<bluecl_model>();
  m->progress = p.progress;
  m->progress_user = p.progress_user;
  m->device_options = device_options(p);
  return m;
}

inline std::function<void(const char*, float)> progress_of(bluecl_model& m) {
  if (!m.progress) return nullptr;
  return [&m](const char* stage, float fraction) {
    if (m.progress(stage, fraction, m.progress_user) != 0)
      fail(Status::Cancelled, "cancelled during {}", stage);
  };
}

}  // namespace bluecl::capi
