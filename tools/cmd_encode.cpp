// bluecl encode: runs the vision tower alone and writes the projected image tokens as raw float32
// [n_tokens][proj_dim] (tile-major), for tests and for comparing with other engines. The input is an
// image file (cut into the mmproj's tile grid) or tiles already normalised [n_tiles][3][T][T] float32;
// --vit-out also writes the ViT features before the projector (from --tiles only).
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace bluecl::cli {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> read_floats(const std::string& path, size_t expected) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Failure{"cannot read " + path};
  const auto size = static_cast<size_t>(f.tellg());
  if (size != expected * sizeof(float))
    throw Failure{path + ": " + std::to_string(size) + " bytes, expected " +
                  std::to_string(expected * sizeof(float)) + " (the tiles as float32)"};
  std::vector<float> v(expected);
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size)))
    throw Failure{"cannot read " + path};
  return v;
}

void write_floats(const std::string& path, const float* data, size_t n) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Failure{"cannot write " + path};
  const size_t written = std::fwrite(data, sizeof(float), n, f);
  if (std::fclose(f) != 0 || written != n) throw Failure{"writing " + path + " failed"};
}

int body(int argc, char** argv) {
  std::string mmproj, image, tiles_path, out, vit_out, trace, pipeline = "auto";
  int64_t n_tiles = 0, batch = 4, repeat = 1;
  DeviceArgs dev;
  Args a(
      "encode",
      "--mmproj VISION.gguf (--image FILE | --tiles TILES.f32 --n-tiles N) --out TOKENS.f32 [options]",
      "Encodes an image with the vision tower alone and writes the projected image tokens as raw\n"
      "little-endian float32 rows [n_tokens][proj_dim], tile-major (thumbnail first, then the grid row by\n"
      "row). --image cuts the image into the mmproj's tile grid (relaxed aspect-ratio matching) and\n"
      "normalises the tiles with its mean/std; --tiles takes N tiles already normalised, float32\n"
      "[N][3][T][T] (T = the mmproj's image size). Timing goes to stderr.");
  a.opt("--mmproj", &mmproj, "the vision tower (mmproj GGUF)", "FILE");
  a.opt("--image", &image, "a PNG or JPEG image", "FILE");
  a.opt("--tiles", &tiles_path, "normalised tiles as raw float32 [N][3][T][T]", "FILE");
  a.opt("--n-tiles", &n_tiles, "the number of tiles in --tiles", {1, 4096});
  a.opt("-o,--out", &out, "where to write the image tokens", "FILE");
  a.opt("--vit-out", &vit_out, "also write the ViT features [N][n_patches][n_embd] (with --tiles)", "FILE");
  a.opt("--batch", &batch, "tiles per vision-tower run (default 4)", {1, 64});
  a.opt("--trace", &trace, "write a Chrome trace of the last encode (chrome://tracing, ui.perfetto.dev)",
        "FILE");
  a.opt("--repeat", &repeat,
        "encode N times and report each time: the first includes uploading weights and\n"
        "compiling kernels (default 1)",
        {1, 1000});
  a.opt("--pipeline", &pipeline,
        "auto|off|serial|on: whether the CPU prepares tile batch k+1 while the device\n"
        "runs the ViT blocks of batch k (serial: the same split, one stage at a time;\n"
        "auto: pipelined when the blocks run on an OpenCL device; default auto)",
        "MODE");
  dev.declare(a);
  if (!a.parse(argc, argv)) return 0;
  if (mmproj.empty() || out.empty()) throw std::runtime_error("--mmproj and --out are required");
  if (image.empty() == tiles_path.empty())
    throw std::runtime_error("give either --image or --tiles (one of them)");
  if (!tiles_path.empty() && n_tiles < 1) throw std::runtime_error("--tiles needs --n-tiles N (N >= 1)");
  if (!vit_out.empty() && tiles_path.empty()) throw std::runtime_error("--vit-out needs --tiles");
  if (repeat < 1) throw std::runtime_error("--repeat must be >= 1");
  const char* modes[] = {"auto", "off", "serial", "on"};
  const auto mode = std::find(std::begin(modes), std::end(modes), pipeline) - std::begin(modes);
  if (mode == 4) throw std::runtime_error("--pipeline must be auto, off, serial or on, not " + pipeline);

  bluecl_model_params mp = dev.model_params();
  bluecl_model* m = nullptr;
  check(bluecl_model_load_vision(mmproj.c_str(), &mp, &m), ("loading " + mmproj).c_str());
  // Repeated encodes measure the steady state: keep the tower's weights between them.
  if (repeat > 1) check(bluecl_model_set_vision_release(m, 0), "keeping the vision weights");
  ModelPtr model_owner(m);
  check(bluecl_model_set_vision_batch(m, static_cast<int32_t>(batch)), "setting the batch size");
  check(bluecl_model_set_vision_pipeline(m, static_cast<int32_t>(mode)), "setting the pipeline mode");
  bluecl_vision_info info{};
  check(bluecl_model_get_vision_info(m, &info), "reading the vision tower");

  std::vector<float> tiles;
  if (!tiles_path.empty()) {
    if (n_tiles > 4096) throw std::runtime_error("--n-tiles " + std::to_string(n_tiles) + " is too many");
    tiles = read_floats(tiles_path, static_cast<size_t>(n_tiles) * 3 * info.image_size * info.image_size);
  }
  ImagePtr image_owner(nullptr);
  double ms = 0, best = 0;
  for (int64_t r = 0; r < repeat; ++r) {
    if (!trace.empty() && r + 1 == repeat) bluecl_trace_start();
    bluecl_image* img = nullptr;
    const auto t0 = std::chrono::steady_clock::now();
    if (tiles.empty())
      check(bluecl_image_encode_file(m, image.c_str(), &img), ("encoding " + image).c_str());
    else
      check(bluecl_image_encode_tiles(m, tiles.data(), static_cast<int32_t>(n_tiles), &img),
            "encoding the tiles");
    check(bluecl_image_wait(img), "encoding");  // encoding runs on the model's worker
    ms = ms_since(t0);
    best = r == 0 ? ms : std::min(best, ms);
    image_owner.reset(img);
    if (repeat > 1) std::fprintf(stderr, "run %lld: %.0f ms\n", static_cast<long long>(r + 1), ms);
  }
  const bluecl_image* img = image_owner.get();
  if (!trace.empty()) {
    check(bluecl_trace_write(trace.c_str()), "writing the trace");
    std::fprintf(stderr, "wrote the trace to %s\n", trace.c_str());
  }

  const float* embd = nullptr;
  size_t n_tokens = 0, n_embd = 0;
  int32_t gm = 0, gn = 0;
  check(bluecl_image_embeddings(img, &embd, &n_tokens, &n_embd), "reading the image tokens");
  check(bluecl_image_grid_of(img, &gm, &gn), "reading the grid");
  write_floats(out, embd, n_tokens * n_embd);
  const size_t tiles_done = n_tokens / static_cast<size_t>(info.tokens_per_tile);
  if (gm > 0) std::fprintf(stderr, "grid %d:%d, ", gm, gn);
  std::fprintf(
      stderr,
      "%zu tiles in batches of %lld: %.0f ms (%.0f ms per tile)%s; wrote %zu x %zu image tokens to %s\n",
      tiles_done, static_cast<long long>(batch), best, best / static_cast<double>(tiles_done),
      repeat > 1 ? ", best run" : "", n_tokens, n_embd, out.c_str());

  if (!vit_out.empty()) {
    size_t n = 0;
    std::vector<float> vit(static_cast<size_t>(n_tiles) * info.n_patches * info.n_embd);
    check(bluecl_vision_features(m, tiles.data(), static_cast<int32_t>(n_tiles), vit.data(), vit.size(), &n),
          "computing the ViT features");
    write_floats(vit_out, vit.data(), vit.size());
    std::fprintf(stderr, "wrote %lld x %d x %d ViT features to %s\n", static_cast<long long>(n_tiles),
                 info.n_patches, info.n_embd, vit_out.c_str());
  }
  return 0;
}

}  // namespace

int encode_main(int argc, char** argv) {
  return run_command("encode", body, argc, argv);
}

}  // namespace bluecl::cli
