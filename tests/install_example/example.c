/* An embedding example in plain C: load a model, generate a few greedy tokens, print them.
 * usage: example MODEL.gguf PROMPT */
#include <bluecl/bluecl.h>

#include <stdio.h>

static int print_token(int32_t token, const char* text, size_t len, void* user) {
  (void)token;
  (void)user;
  fwrite(text, 1, len, stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.gguf PROMPT\n", argv[0]);
    return 2;
  }
  /* A library older than this header would refuse its params structs: say so plainly. */
  if (bluecl_abi_version() < BLUECL_ABI_VERSION) {
    fprintf(stderr, "libbluecl %s has ABI %d, this program needs %d\n", bluecl_version(),
            bluecl_abi_version(), BLUECL_ABI_VERSION);
    return 1;
  }
  bluecl_set_log_level(BLUECL_LOG_WARN);
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = "cpu";
  bluecl_model* model = NULL;
  if (bluecl_model_load(argv[1], &mp, &model) != BLUECL_OK) {
    fprintf(stderr, "load failed: %s\n", bluecl_last_error());
    return 1;
  }
  bluecl_session* session = NULL;
  if (bluecl_session_create(model, NULL, &session) != BLUECL_OK) {
    fprintf(stderr, "session failed: %s\n", bluecl_last_error());
    bluecl_model_free(model);
    return 1;
  }
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 8;
  gp.sampling.temperature = 0.0f;
  gp.on_token = print_token;
  bluecl_generate_stats stats;
  const bluecl_status st = bluecl_generate(session, argv[2], &gp, &stats);
  printf("\ngenerated %d tokens (status %s)\n", stats.n_generated, bluecl_status_name(st));
  bluecl_session_free(session);
  bluecl_model_free(model);
  return st == BLUECL_OK && stats.n_generated == 8 ? 0 : 1;
}
