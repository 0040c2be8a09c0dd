// bluecl run: generates text from a prompt, streaming it to stdout; loading progress, kernel
// compilation, image encoding (grid, tiles, tokens, time) and the timing summary go to stderr.
// With --mmproj and --image, each image fills one <image> marker of the prompt (or, with --chat and no
// marker, is placed by BlueLM's template).
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

namespace bluecl::cli {

namespace {

int on_token(int32_t, const char* text, size_t len, void*) {
  std::fwrite(text, 1, len, stdout);
  std::fflush(stdout);
  return 0;
}

bluecl_kv_type kv_type(const std::string& s) {
  if (s.empty() || s == "auto") return BLUECL_KV_DEFAULT;
  if (s == "f32") return BLUECL_KV_F32;
  if (s == "f16") return BLUECL_KV_F16;
  if (s == "q8" || s == "q8_0") return BLUECL_KV_Q8_0;
  throw std::runtime_error("--kv must be auto, f32, f16 or q8_0 (got '" + s + "')");
}

// Encodes each image file, printing what the encoder made of it. Encoding runs on the model's worker
// (decoupled): the images are all started first, then waited for.
std::vector<ImagePtr> encode_images(bluecl_model* m, const std::vector<std::string>& files, bool quiet) {
  std::vector<ImagePtr> out;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& file : files) {
    bluecl_image* img = nullptr;
    check(bluecl_image_encode_file(m, file.c_str(), &img), ("encoding " + file).c_str());
    out.emplace_back(img);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& file = files[i];
    bluecl_image* img = out[i].get();
    check(bluecl_image_wait(img), ("encoding " + file).c_str());
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    int32_t gm = 0, gn = 0;
    const float* embd = nullptr;
    size_t n_tokens = 0, n_embd = 0;
    check(bluecl_image_grid_of(img, &gm, &gn), "reading the image grid");
    check(bluecl_image_embeddings(img, &embd, &n_tokens, &n_embd), "reading the image tokens");
    if (!quiet)
      std::fprintf(stderr, "image %s: grid %d:%d, %d tiles, %zu image tokens, encoded by %.0f ms\n",
                   file.c_str(), gm, gn, gm * gn + 1, n_tokens, ms);
  }
  return out;
}

int body(int argc, char** argv) {
  std::string model, prompt, prompt_file, kv, mmproj, trace;
  std::vector<std::string> image_files;
  int64_t vision_batch = 4;
  DeviceArgs dev;
  bluecl_sampler_params sp = bluecl_sampler_default_params();
  int64_t n_predict = 128, ctx = 0, chunk = 128, top_k = sp.top_k, repeat_last_n = sp.repeat_last_n,
          seed = -1;
  double temp = sp.temperature, top_p = sp.top_p, min_p = sp.min_p, repeat_penalty = sp.repeat_penalty;
  bool chat = false, quiet = false;
  std::vector<std::string> stops;
  Args a(
      "run", "-m MODEL.gguf [--mmproj VISION.gguf --image FILE...] -p PROMPT [options]",
      "Generates text from PROMPT and streams it to stdout. With a random-weight model (bluecl gen-model)\n"
      "the text is meaningless, but every stage runs for real.\n\n"
      "Images: each --image fills one <image> marker of the prompt, in order (\"Compare <image> with\n"
      "<image>\"). With --chat and no marker, the images go before the question as in BlueLM's template\n"
      "[|Human|]:<im_start><image><im_end>PROMPT\\n[|AI|]:. An image becomes a grid of 384 px tiles plus a\n"
      "thumbnail (196 tokens each with SigLIP); the grid, tile count, token count and encode time are\n"
      "printed to stderr.");
  a.opt("-m,--model", &model, "the language model (GGUF: llama or bluelm architecture)", "FILE");
  a.opt("--mmproj", &mmproj, "the vision tower (mmproj GGUF) that turns images into image tokens", "FILE");
  a.multi("--image", &image_files, "a PNG or JPEG image for the prompt (repeatable; needs --mmproj)", "FILE");
  a.opt("--vision-batch", &vision_batch, "tiles per vision-tower run (default 4)", {1, 64});
  a.opt("-p,--prompt", &prompt, "the prompt");
  a.opt("-f,--file", &prompt_file, "read the prompt from FILE", "FILE");
  a.flag("--chat", &chat, "wrap the prompt in BlueLM's chat template [|Human|]:PROMPT\\n[|AI|]:");
  a.opt("-n,--n-predict", &n_predict,
        "tokens to generate; -1: until end of text or the context is full (default 128)", {-1, 1 << 20});
  a.opt("--ctx", &ctx, "context length in tokens (default: the model's, at most 2048)", {1, 1 << 20});
  a.opt("--chunk", &chunk, "prefill chunk size (default 128)", {1, 1 << 20});
  a.opt("--kv", &kv, "KV cache type: auto, f32, f16, q8_0 (default auto: f16 where the device has fp16)",
        "TYPE");
  a.opt("--temp", &temp, "sampling temperature; 0 = greedy (default 0.8)", {0.0, 100.0});
  a.opt("--top-k", &top_k, "keep the K most likely tokens; 0 = off (default 40)", {0, INT32_MAX});
  a.opt("--top-p", &top_p, "nucleus sampling mass; 1 = off (default 0.95)", {0.0, 1.0});
  a.opt("--min-p", &min_p, "drop tokens below MIN_P x the most likely; 0 = off (default 0.05)", {0.0, 1.0});
  a.opt("--repeat-penalty", &repeat_penalty, "penalise recently seen tokens; 1 = off (default 1)",
        {0.0, 100.0});
  a.opt("--repeat-last-n", &repeat_last_n, "how far back the penalty looks (default 64)", {0, 1 << 20});
  a.opt("--seed", &seed, "sampling seed (default: random)", {0, INT64_MAX});
  a.multi("--stop", &stops, "stop when this text appears (repeatable); it is not printed");
  a.flag("-q,--quiet", &quiet, "no progress or timing on stderr");
  a.opt("--trace", &trace, "write a Chrome trace of the run (chrome://tracing, ui.perfetto.dev)", "FILE");
  dev.declare(a);
  if (!a.parse(argc, argv)) return 0;
  if (model.empty()) throw std::runtime_error("-m MODEL.gguf is required");
  if (!image_files.empty() && mmproj.empty())
    throw std::runtime_error("--image needs a vision tower: give it with --mmproj VISION.gguf");
  if (!prompt_file.empty()) {
    std::ifstream f(prompt_file, std::ios::binary);
    if (!f) throw Failure{"cannot read " + prompt_file};
    prompt.assign(std::istreambuf_iterator<char>(f), {});
  }
  if (!mmproj.empty()) {  // the library checks this too, but only after loading everything
    size_t markers = 0;
    for (size_t at = prompt.find("<image>"); at != std::string::npos; at = prompt.find("<image>", at + 7))
      ++markers;
    if (markers != image_files.size() && !(chat && markers == 0))
      throw std::runtime_error("the prompt has " + std::to_string(markers) + " <image> markers for " +
                               std::to_string(image_files.size()) +
                               " --image files: put one <image> where each image goes, or use --chat");
  }
  if (quiet) bluecl_set_log_level(BLUECL_LOG_WARN);
  if (!trace.empty()) bluecl_trace_start();

  bluecl_model_params mp = dev.model_params();
  if (quiet) mp.progress = nullptr;
  bluecl_model* m = nullptr;
  check(bluecl_model_load(model.c_str(), &mp, &m), "loading the model");
  ModelPtr model_owner(m);

  std::vector<ImagePtr> images;
  if (!mmproj.empty()) {
    check(bluecl_model_set_vision_batch(m, static_cast<int32_t>(vision_batch)), "setting the vision batch");
    check(bluecl_model_load_mmproj(m, mmproj.c_str()), ("loading " + mmproj).c_str());
    images = encode_images(m, image_files, quiet);
  }

  bluecl_session_params ssp = bluecl_session_default_params();
  ssp.n_ctx = static_cast<int32_t>(ctx);
  ssp.n_chunk = static_cast<int32_t>(chunk);
  ssp.kv_type = kv_type(kv);
  bluecl_session* s = nullptr;
  check(bluecl_session_create(m, &ssp, &s), "creating a session");
  SessionPtr session_owner(s);

  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = static_cast<int32_t>(n_predict);
  gp.sampling.temperature = static_cast<float>(temp);  // by name: the struct starts with its size
  gp.sampling.top_k = static_cast<int32_t>(top_k);
  gp.sampling.top_p = static_cast<float>(top_p);
  gp.sampling.min_p = static_cast<float>(min_p);
  gp.sampling.repeat_penalty = static_cast<float>(repeat_penalty);
  gp.sampling.repeat_last_n = static_cast<int32_t>(repeat_last_n);
  gp.sampling.seed = seed < 0 ? std::random_device{}() : static_cast<uint64_t>(seed);
  std::vector<const char*> stop_ptrs;
  for (const std::string& st : stops) stop_ptrs.push_back(st.c_str());
  gp.stop = stop_ptrs.data();
  gp.n_stop = stop_ptrs.size();
  gp.chat = chat;
  gp.on_token = on_token;
  std::vector<const bluecl_image*> image_ptrs;
  for (const ImagePtr& img : images) image_ptrs.push_back(img.get());
  gp.images = image_ptrs.data();
  gp.n_images = image_ptrs.size();
  bluecl_generate_stats st{};
  check(bluecl_generate(s, prompt.c_str(), &gp, &st), "generating");
  std::printf("\n");
  std::fflush(stdout);  // the text, then the summary on stderr
  if (!trace.empty()) check(bluecl_trace_write(trace.c_str()), "writing the trace");
  if (!quiet) {
    bluecl_model_info info;
    check(bluecl_model_get_info(m, &info), "reading model info");
    if (info.programs_compiled + info.programs_cached > 0)
      std::fprintf(stderr, "kernels: %d programs compiled in %.0f ms, %d loaded from the cache in %.0f ms\n",
                   info.programs_compiled, info.compile_ms, info.programs_cached, info.cache_load_ms);
    static const char* reasons[] = {"token budget", "end of text", "stop string", "cancelled",
                                    "context full"};
    std::fprintf(
        stderr,
        "prompt: %d tokens in %.0f ms (%.1f tok/s); generated: %d tokens in %.0f ms (%.1f tok/s); stop: %s\n",
        st.n_prompt, st.prefill_ms, st.prefill_ms > 0 ? st.n_prompt * 1000.0 / st.prefill_ms : 0.0,
        st.n_generated, st.decode_ms, st.decode_ms > 0 ? st.n_generated * 1000.0 / st.decode_ms : 0.0,
        reasons[st.stop_reason]);
  }
  return 0;
}

}  // namespace

int run_main(int argc, char** argv) {
  return run_command("run", body, argc, argv);
}

}  // namespace bluecl::cli
