// The C API (host/include/bluecl/bluecl.h): a model handle wraps a bluecl::Engine and a session handle an
// EngineSession (host/session/engine.h), which own every lock and lifecycle; the entry points check their
// arguments, convert C structs and run inside guard(), which turns exceptions into a status code and a
// per-thread message. The handles and helpers are
// in host/api/c_api_internal.h; images and bluecl_generate are in host/api/c_api_image.cpp.
#include "host/api/c_api_internal.h"

#include "backend/cl/cl_device.h"
#include "backend/cl/cl_runtime.h"
#include "backend/limits.h"
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/image/grid.h"
#include "host/runtime/profile.h"
#include "host/runtime/trace.h"
#include "host/session/generate.h"

using namespace bluecl;
using namespace bluecl::capi;

namespace {

void log_trampoline(LogLevel level, const char* tag, const char* msg, void* user) {
  auto* pair = static_cast<std::pair<bluecl_log_callback, void*>*>(user);
  pair->first(static_cast<bluecl_log_level>(level), tag, msg, pair->second);
}

}  // namespace

extern "C" {

const char* bluecl_status_name(bluecl_status status) {
  return status_name(static_cast<Status>(status));
}
const char* bluecl_last_error(void) {
  return g_last_error.c_str();
}
#define BLUECL_STR2(x) #x
#define BLUECL_STR(x) BLUECL_STR2(x)
const char* bluecl_version(void) {
  return BLUECL_STR(BLUECL_VERSION_MAJOR) "." BLUECL_STR(BLUECL_VERSION_MINOR) "." BLUECL_STR(
      BLUECL_VERSION_PATCH);
}
int32_t bluecl_abi_version(void) {
  return BLUECL_ABI_VERSION;
}

void bluecl_set_log_callback(bluecl_log_callback callback, void* user) {
  static std::pair<bluecl_log_callback, void*> target;
  if (!callback) {
    set_log_sink(nullptr, nullptr);
    return;
  }
  target = {callback, user};
  set_log_sink(log_trampoline, &target);
}

void bluecl_set_log_level(bluecl_log_level level) {
  set_log_level(static_cast<LogLevel>(level));
}

void bluecl_trace_start(void) {
  Tracer::get().start();
}

bluecl_status bluecl_trace_write(const char* path) {
  return guard([&] {
    Tracer::get().stop();
    Tracer::get().write(nonnull(path, "path"));
  });
}

void bluecl_profile_start(void) {
  OpProfile::get().start();
}

const char* bluecl_profile_table(void) {
  static std::string text;
  OpProfile::get().stop();
  if (guard([&] { text = OpProfile::get().table(); }) != BLUECL_OK) text = bluecl_last_error();
  return text.c_str();
}

int32_t bluecl_device_count(void) {
  int32_t n = 0;
  if (guard([&] { n = static_cast<int32_t>(list_cl_devices().size()); }) != BLUECL_OK) return -1;
  return n;
}

bluecl_status bluecl_device_get(int32_t index, bluecl_device_info* out) {
  return guard([&] {
    need(out, "out");
    const std::vector<ClDeviceInfo> devs = list_cl_devices();
    if (index < 0 || index >= static_cast<int32_t>(devs.size()))
      fail(Status::InvalidArgument, "no OpenCL device {} (there are {})", index, devs.size());
    const DeviceFeatures& f = devs[index].features;
    *out = {};
    out->index = index;
    copy_str(out->platform, sizeof out->platform, f.platform_name + " (" + f.platform_version + ")");
    copy_str(out->name, sizeof out->name, f.device_name);
    copy_str(out->vendor, sizeof out->vendor, f.device_vendor);
    copy_str(out->version, sizeof out->version, f.device_version);
    copy_str(out->driver, sizeof out->driver, f.driver_version);
    copy_str(out->opencl_c, sizeof out->opencl_c, f.opencl_c_version);
    out->is_gpu = f.is_gpu;
    out->is_cpu = f.is_cpu;
    out->fp16 = f.fp16;
    out->subgroups = f.subgroups;
    out->images = f.images;
    out->unified_memory = f.unified_memory;
    out->command_buffer = f.command_buffer;
    out->compute_units = f.compute_units;
    out->max_clock_mhz = f.max_clock_mhz;
    out->base_align_bytes = f.base_align_bytes;
    out->global_mem_bytes = f.global_mem_bytes;
    out->max_alloc_bytes = f.max_alloc_bytes;
    out->local_mem_bytes = f.local_mem_bytes;
    out->max_work_group_size = f.max_work_group_size;
    copy_str(out->profile, sizeof out->profile, f.profile);
  });
}

namespace {
void copy_limits(const Limits& l, bluecl_limits* out) {
  *out = {};
  copy_str(out->device, sizeof out->device, l.device);
  out->read_gbps = l.read_gbps;
  out->copy_gbps = l.copy_gbps;
  out->fma_gflops = l.fma_gflops;
}
}  // namespace

bluecl_status bluecl_measure_host_limits(int32_t n_threads, bluecl_limits* out) {
  return guard([&] { copy_limits(measure_host_limits(n_threads), nonnull(out, "out")); });
}

bluecl_status bluecl_measure_device_limits(const char* device, bluecl_limits* out) {
  return guard([&] {
    nonnull(out, "out");
    std::string why;
    const std::optional<ClDeviceInfo> dev = select_cl_device(device ? device : "", &why);
    if (!dev) fail(Status::Device, "{}", why);
    ClBackend cl(*dev);
    copy_limits(measure_cl_limits(cl), out);
  });
}

bluecl_model_params bluecl_model_default_params(void) {
  bluecl_model_params p{};
  p.struct_size = sizeof p;
  return p;
}

bluecl_status bluecl_model_load(const char* path, const bluecl_model_params* params, bluecl_model** out) {
  return guard([&] {
    need(out, "out") = nullptr;
    auto m = std::make_unique<bluecl_model>();
    m->e = Engine::load(nonnull(path, "path"), engine_options(params));
    *out = m.release();
  });
}

void bluecl_model_free(bluecl_model* model) {
  delete model;
}

bluecl_status bluecl_model_get_info(const bluecl_model* model, bluecl_model_info* out) {
  return guard([&] {
    Engine& e = *need(model, "model").e;
    need(out, "out");
    *out = {};
    const LlmModel& llm = e.llm();
    const LlmHParams& hp = llm.hparams();
    copy_str(out->arch, sizeof out->arch, llm.arch());
    out->n_vocab = llm.tokenizer().n_vocab();
    out->n_ctx_train = hp.n_ctx_train;
    out->n_embd = hp.n_embd;
    out->n_layer = hp.n_layer;
    out->n_head = hp.n_head;
    out->n_head_kv = hp.n_head_kv;
    out->n_ff = hp.n_ff;
    out->weight_bytes = llm.vocab_only() ? 0 : llm.weight_bytes();
    out->matmul_params = llm.vocab_only() ? 0 : static_cast<uint64_t>(llm.matmul_params());
    out->matmul_weight_bytes = llm.vocab_only() ? 0 : llm.matmul_weight_bytes();
    out->bos = llm.tokenizer().bos();
    out->eos = llm.tokenizer().eos();
    Devices* devices = e.devices();
    std::string devs;
    if (devices)
      for (Backend* b : devices->backends()) devs += (devs.empty() ? "" : ", ") + b->name();
    copy_str(out->devices, sizeof out->devices, devs);
    if (devices && devices->cl()) {
      const ClBuildStats st = devices->cl()->runtime().programs.stats();
      out->programs_compiled = st.compiled;
      out->programs_cached = st.from_cache;
      out->compile_ms = st.compile_ms;
      out->cache_load_ms = st.load_ms;
      out->device_bytes = devices->cl()->allocated_bytes();
      out->device_peak_bytes = devices->cl()->peak_allocated_bytes();
    }
  });
}

bluecl_status bluecl_tokenize(const bluecl_model* model, const char* text, size_t len, int32_t add_special,
                              int32_t parse_special, int32_t* tokens, size_t capacity, size_t* n_tokens) {
  return guard([&] {
    const Engine& e = *need(model, "model").e;
    if (!text && len) fail(Status::InvalidArgument, "text is NULL");
    const std::vector<int32_t> ids = e.llm().tokenizer().encode(std::string_view(text ? text : "", len),
                                                                add_special != 0, parse_special != 0);
    need(n_tokens, "n_tokens") = ids.size();
    if (ids.size() > capacity)
      fail(Status::InvalidArgument, "{} tokens do not fit a buffer of {}", ids.size(), capacity);
    if (!ids.empty()) std::memcpy(nonnull(tokens, "tokens"), ids.data(), ids.size() * sizeof(int32_t));
  });
}

bluecl_status bluecl_detokenize(const bluecl_model* model, const int32_t* tokens, size_t n_tokens, char* text,
                                size_t capacity, size_t* len) {
  return guard([&] {
    const Engine& e = *need(model, "model").e;
    if (!tokens && n_tokens) fail(Status::InvalidArgument, "tokens is NULL");
    const Tokenizer& tok = e.llm().tokenizer();
    for (size_t i = 0; i < n_tokens; ++i)
      if (tokens[i] < 0 || tokens[i] >= tok.n_vocab())
        fail(Status::InvalidArgument, "token id {} is not in the vocabulary", tokens[i]);
    const std::string s = tok.decode(std::span<const int32_t>(tokens, n_tokens));
    need(len, "len") = s.size();
    if (s.size() + 1 > capacity)
      fail(Status::InvalidArgument, "{} bytes of text do not fit a buffer of {}", s.size() + 1, capacity);
    std::memcpy(nonnull(text, "text"), s.c_str(), s.size() + 1);
  });
}

bluecl_session_params bluecl_session_default_params(void) {
  return bluecl_session_params{.struct_size = sizeof(bluecl_session_params),
                               .n_ctx = 0,
                               .n_chunk = 128,
                               .kv_type = BLUECL_KV_DEFAULT,
                               .all_logits = 0};
}

bluecl_status bluecl_session_create(bluecl_model* model, const bluecl_session_params* params,
                                    bluecl_session** out) {
  return guard([&] {
    need(out, "out") = nullptr;
    Engine& e = *need(model, "model").e;
    const bluecl_session_params p = read_params(params, bluecl_session_default_params());
    SessionParams sp{.n_ctx = p.n_ctx, .n_chunk = p.n_chunk, .all_logits = p.all_logits != 0};
    switch (p.kv_type) {
      case BLUECL_KV_DEFAULT:
        break;
      case BLUECL_KV_F32:
        sp.kv_type = DType::F32;
        break;
      case BLUECL_KV_F16:
        sp.kv_type = DType::F16;
        break;
      case BLUECL_KV_Q8_0:
        sp.kv_type = DType::Q8_0;
        break;
      default:
        fail(Status::InvalidArgument, "unknown KV cache type {}", static_cast<int>(p.kv_type));
    }
    auto s = std::make_unique<bluecl_session>();
    s->s = e.create_session(sp);
    *out = s.release();
  });
}

void bluecl_session_free(bluecl_session* session) {
  delete session;
}

bluecl_status bluecl_session_prefill(bluecl_session* session, const int32_t* tokens, size_t n_tokens) {
  return guard([&] {
    need(session, "session").s->prefill(std::span<const int32_t>(nonnull(tokens, "tokens"), n_tokens));
  });
}

bluecl_status bluecl_session_prefill_embeddings(bluecl_session* session, const float* embd, size_t n_tokens) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    const size_t n_embd = static_cast<size_t>(s.n_embd());
    s.prefill_embd(std::span<const float>(nonnull(embd, "embd"), n_tokens * n_embd));
  });
}

bluecl_status bluecl_session_decode(bluecl_session* session, int32_t token, const float** logits,
                                    size_t* n_vocab) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    nonnull(logits, "logits");
    s.prefill(std::span<const int32_t>(&token, 1));
    *logits = s.logits().data();
    if (n_vocab) *n_vocab = static_cast<size_t>(s.n_vocab());
  });
}

bluecl_status bluecl_session_logits(bluecl_session* session, const float** logits, size_t* n_rows,
                                    size_t* n_vocab) {
  return guard([&] {
    const EngineSession& s = *need(session, "session").s;
    const size_t nv = static_cast<size_t>(s.n_vocab());
    if (!s.all_logits().empty()) {
      need(logits, "logits") = s.all_logits().data();
      need(n_rows, "n_rows") = s.all_logits().size() / nv;
    } else {
      need(logits, "logits") = s.logits().data();
      need(n_rows, "n_rows") = 1;
    }
    need(n_vocab, "n_vocab") = nv;
  });
}

int32_t bluecl_session_n_past(const bluecl_session* session) {
  return session ? static_cast<int32_t>(session->s->n_past()) : 0;
}

int32_t bluecl_session_n_ctx(const bluecl_session* session) {
  return session ? static_cast<int32_t>(session->s->n_ctx()) : 0;
}

bluecl_status bluecl_session_plan(bluecl_session* session, int32_t n_tokens, char* text, size_t capacity,
                                  size_t* len) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    if (n_tokens < 1 || n_tokens > s.n_ctx())
      fail(Status::InvalidArgument, "plan for {} tokens (1..{})", n_tokens, s.n_ctx());
    copy_text(s.plan_text(n_tokens), text, capacity, len, "the plan");
  });
}

bluecl_status bluecl_session_truncate(bluecl_session* session, int32_t n_keep) {
  return guard([&] { need(session, "session").s->truncate(n_keep); });
}

bluecl_status bluecl_session_state_size(bluecl_session* session, size_t* size) {
  return guard([&] { need(size, "size") = need(session, "session").s->state_size(); });
}

bluecl_status bluecl_session_state_save(bluecl_session* session, void* buf, size_t capacity, size_t* size) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    need(size, "size") = s.state_size();
    if (*size > capacity)
      fail(Status::InvalidArgument, "the session state needs {} bytes, the buffer has {}", *size, capacity);
    const std::vector<uint8_t> bytes = s.save_state();
    *size = bytes.size();
    std::memcpy(nonnull(buf, "buf"), bytes.data(), bytes.size());
  });
}

bluecl_status bluecl_session_state_load(bluecl_session* session, const void* buf, size_t size) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    if (!buf && size) fail(Status::InvalidArgument, "buf is NULL");
    s.load_state(std::span<const uint8_t>(static_cast<const uint8_t*>(buf), size));
  });
}

bluecl_status bluecl_session_state_save_file(bluecl_session* session, const char* path) {
  return guard([&] { need(session, "session").s->save_state_file(nonnull(path, "path")); });
}

bluecl_status bluecl_session_state_load_file(bluecl_session* session, const char* path) {
  return guard([&] { need(session, "session").s->load_state_file(nonnull(path, "path")); });
}

bluecl_status bluecl_session_tokens(const bluecl_session* session, int32_t* tokens, size_t capacity,
                                    size_t* n_tokens) {
  return guard([&] {
    const std::vector<int32_t>& h = need(session, "session").s->history();
    need(n_tokens, "n_tokens") = h.size();
    if (h.size() > capacity)
      fail(Status::InvalidArgument, "{} tokens do not fit a buffer of {}", h.size(), capacity);
    if (!h.empty()) std::memcpy(nonnull(tokens, "tokens"), h.data(), h.size() * sizeof(int32_t));
  });
}

bluecl_sampler_params bluecl_sampler_default_params(void) {
  const SamplerParams d;
  return bluecl_sampler_params{sizeof(bluecl_sampler_params),
                               d.temperature,
                               d.top_k,
                               d.top_p,
                               d.min_p,
                               d.repeat_penalty,
                               d.repeat_last_n,
                               d.seed};
}

bluecl_generate_params bluecl_generate_default_params(void) {
  bluecl_generate_params p{};
  p.struct_size = sizeof p;
  p.n_predict = 128;
  p.sampling = bluecl_sampler_default_params();
  return p;
}

// bluecl_generate lives in host/api/c_api_image.cpp: it expands <image> markers.

bluecl_grid_params bluecl_grid_default_params(void) {
  const GridOptions d;
  return bluecl_grid_params{sizeof(bluecl_grid_params),  d.tile, d.max_grid, d.max_tiles,
                            static_cast<float>(d.alpha), 0};
}

bluecl_status bluecl_image_grid(int32_t width, int32_t height, const bluecl_grid_params* params, int32_t* m,
                                int32_t* n, int32_t* n_tokens) {
  return guard([&] {
    const bluecl_grid_params p = read_params(params, bluecl_grid_default_params());
    const GridOptions o{p.tile, p.max_grid, p.max_tiles, p.alpha};
    const Grid g =
        p.llava_next ? select_grid_llava_next(width, height, o) : select_grid_relaxed(width, height, o);
    need(m, "m") = g.m;
    need(n, "n") = g.n;
    need(n_tokens, "n_tokens") = image_token_count(g);
  });
}

}  // extern "C"
