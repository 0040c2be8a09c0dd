// Fuzz target "state": any bytes loaded as a session state (Session::load_state, what
// bluecl_session_state_load and _load_file run) into sessions of the golden tiny model on the CPU, one per
// KV type. Most mutations break the checksum, so each input also runs with its checksum made right, which
// takes it past to the header, size and history checks. Bad input must end in Error, the session left
// as it was; a state that loads must hold a consistent session (n_past within the context, one history
// entry per position) and save back to exactly the bytes it was loaded from.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "host/session/engine.h"

#include <cstring>
#include <memory>

namespace bluecl::fuzz {
namespace {

struct Sessions {
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<EngineSession>> s;  // f32, f16, q8_0 caches of 16 positions
};

Sessions& sessions() {
  static Sessions* all = [] {
    auto* p = new Sessions;  // kept to the process's end, as libFuzzer runs inputs until then
    EngineOptions o;
    o.devices.device = "cpu";
    o.devices.n_threads = 1;
    p->engine = Engine::load(data_path("golden/tiny-a-q4_0.gguf"), o);
    for (DType kv : {DType::F32, DType::F16, DType::Q8_0})
      p->s.push_back(p->engine->create_session(SessionParams{.n_ctx = 16, .n_chunk = 8, .kv_type = kv}));
    return p;
  }();
  return *all;
}

void load_into(EngineSession& s, const Bytes& bytes) {
  const std::vector<int32_t> before = s.history();
  try {
    s.load_state(bytes);
  } catch (const Error& e) {
    expect_input_error(e);
    BLUECL_FUZZ_CHECK(s.history() == before);  // refused: unchanged
    return;
  }
  BLUECL_FUZZ_CHECK(s.n_past() >= 0 && s.n_past() <= s.n_ctx());
  BLUECL_FUZZ_CHECK(s.history().size() == static_cast<size_t>(s.n_past()));
  BLUECL_FUZZ_CHECK(s.save_state() == bytes);
}

int run(const uint8_t* data, size_t size) {
  Sessions& all = sessions();
  Bytes bytes(data, data + size);
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& s : all.s) load_into(*s, bytes);
    if (size < 16) break;
    const uint64_t sum = hash64(std::string_view(reinterpret_cast<const char*>(data), size - 8));
    std::memcpy(bytes.data() + size - 8, &sum, 8);  // the second pass: the checksum made right
  }
  return 0;
}

// States saved from the sessions: empty, a few tokens, a prompt with embeddings in it, of each KV type.
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  Sessions& all = sessions();
  const char* kv_names[] = {"f32", "f16", "q8_0"};
  for (size_t i = 0; i < all.s.size(); ++i) {
    EngineSession& s = *all.s[i];
    s.truncate(0);
    emit(std::string("empty-") + kv_names[i], s.save_state());
    const std::vector<int32_t> ids = {1, 50, 60, 70};
    s.prefill(ids);
    emit(std::string("tokens-") + kv_names[i], s.save_state());
    s.prefill_embd(std::vector<float>(2 * s.n_embd(), 0.25f));
    s.prefill(std::vector<int32_t>{80});
    emit(std::string("embeddings-") + kv_names[i], s.save_state());
    s.truncate(0);
  }
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(state, bluecl::fuzz::run, bluecl::fuzz::seeds)
