// The embedding example in C++17 with the installed owners of bluecl/bluecl.hpp: every handle is freed on
// every path out, with no free call written. usage: example_cpp MODEL.gguf PROMPT
#include <bluecl/bluecl.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf PROMPT\n", argv[0]);
    return 2;
  }
  if (bluecl_abi_version() < BLUECL_ABI_VERSION) {  // an older library would refuse our params structs
    std::fprintf(stderr, "libbluecl %s has ABI %d, this program needs %d\n", bluecl_version(),
                 bluecl_abi_version(), BLUECL_ABI_VERSION);
    return 1;
  }
  bluecl_set_log_level(BLUECL_LOG_WARN);
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = "cpu";
  bluecl::ModelPtr model;
  if (bluecl_model_load(argv[1], &mp, bluecl::out(model)) != BLUECL_OK) {
    std::fprintf(stderr, "load failed: %s\n", bluecl_last_error());
    return 1;
  }
  bluecl::SessionPtr session;  // declared after the model: freed first
  if (bluecl_session_create(model.get(), nullptr, bluecl::out(session)) != BLUECL_OK) {
    std::fprintf(stderr, "session failed: %s\n", bluecl_last_error());
    return 1;
  }
  std::string text;
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 8;
  gp.sampling.temperature = 0.0f;
  gp.user = &text;
  gp.on_token = [](int32_t, const char* piece, size_t len, void* user) {
    static_cast<std::string*>(user)->append(piece, len);
    return 0;
  };
  bluecl_generate_stats stats{};
  const bluecl_status st = bluecl_generate(session.get(), argv[2], &gp, &stats);
  std::printf("%s\ngenerated %d tokens (status %s)\n", text.c_str(), stats.n_generated,
              bluecl_status_name(st));
  return st == BLUECL_OK && stats.n_generated == 8 ? 0 : 1;
}
