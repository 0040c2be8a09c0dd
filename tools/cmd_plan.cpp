// bluecl plan: where each op of a model's graphs runs and why, and what crosses between devices.
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace bluecl::cli {

namespace {

std::string plan_of(bluecl_session* s, int32_t n) {
  size_t len = 0;
  bluecl_session_plan(s, n, nullptr, 0, &len);  // asks for the size
  std::string text(len + 1, '\0');
  check(bluecl_session_plan(s, n, text.data(), text.size(), &len), "planning");
  text.resize(len);
  return text;
}

int body(int argc, char** argv) {
  std::string model, mmproj;
  int64_t chunk = 128, vision_batch = 4;
  DeviceArgs dev;
  Args a(
      "plan", "-m MODEL.gguf [options]",
      "Prints the placement plan of the prefill-chunk graph and of the one-token (decode) graph: every node\n"
      "with its output shape, the device it runs on and why (default, pinned, declined by the device,\n"
      "weights in host memory, where its KV cache lives, a transfer), then the transfers per step.");
  a.opt("-m,--model", &model, "the language model", "FILE");
  a.opt("--chunk", &chunk, "prefill chunk size (default 128)", {1, 1 << 20});
  a.opt("--mmproj", &mmproj, "also plan the vision tower for a batch of tiles", "FILE");
  a.opt("--vision-batch", &vision_batch, "tiles per vision batch (default 4)", {1, 64});
  dev.declare(a);
  if (!a.parse(argc, argv)) return 0;
  if (model.empty()) throw std::runtime_error("-m MODEL.gguf is required");
  bluecl_set_log_level(BLUECL_LOG_WARN);
  bluecl_model_params mp = dev.model_params();
  mp.progress = nullptr;
  bluecl_model* m = nullptr;
  check(bluecl_model_load(model.c_str(), &mp, &m), "loading the model");
  ModelPtr mo(m);
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_chunk = static_cast<int32_t>(chunk);
  bluecl_session* s = nullptr;
  check(bluecl_session_create(m, &sp, &s), "creating a session");
  SessionPtr so(s);
  std::printf("== prefill graph: a chunk of %lld tokens ==\n%s\n", static_cast<long long>(chunk),
              plan_of(s, static_cast<int32_t>(chunk)).c_str());
  std::printf("== decode graph: one token ==\n%s", plan_of(s, 1).c_str());
  if (!mmproj.empty()) {
    check(bluecl_model_load_mmproj(m, mmproj.c_str()), ("loading " + mmproj).c_str());
    check(bluecl_model_set_vision_batch(m, static_cast<int32_t>(vision_batch)), "setting the vision batch");
    size_t len = 0;
    bluecl_model_vision_plan(m, static_cast<int32_t>(vision_batch), nullptr, 0, &len);
    std::string text(len + 1, '\0');
    check(bluecl_model_vision_plan(m, static_cast<int32_t>(vision_batch), text.data(), text.size(), &len),
          "planning");
    text.resize(len);
    std::printf("\n== vision tower: a batch of %lld tiles ==\n%s", static_cast<long long>(vision_batch),
                text.c_str());
  }
  return 0;
}

}  // namespace

int plan_main(int argc, char** argv) {
  return run_command("plan", body, argc, argv);
}

}  // namespace bluecl::cli
