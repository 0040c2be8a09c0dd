// bluecl bench's image part: encode times, time to first token with and without decoupled encoding, and
// resident memory while the vision tower is loaded and after it is freed. C API only.
#include "tools/bench_common.h"
#include "tools/cli_common.h"

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

namespace bluecl::cli {

double rss_gib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 30);
}

namespace {

ModelPtr load(const std::string& model, const std::string& mmproj, const std::string& device,
              int64_t threads) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = device.c_str();
  p.n_threads = static_cast<int32_t>(threads);
  bluecl_model* m = nullptr;
  check(bluecl_model_load(model.c_str(), &p, &m), "loading the model");
  ModelPtr owner(m);
  check(bluecl_model_load_mmproj(m, mmproj.c_str()), "loading the vision tower");
  return owner;
}

// A 768x1536 test picture (a 2:4 grid: 8 tiles and the thumbnail).
std::vector<uint8_t> picture(int w, int h) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(y * 255 / h);
      p[2] = static_cast<uint8_t>((x ^ y) & 0xff);
    }
  return rgb;
}

double encode_seconds(bluecl_model* m, const std::vector<uint8_t>& rgb, int w, int h) {
  bluecl_image* img = nullptr;
  const auto t0 = Clock::now();
  check(bluecl_image_encode_rgb(m, rgb.data(), w, h, &img), "encoding");
  ImagePtr owner(img);
  check(bluecl_image_wait(img), "encoding");
  return since(t0);
}

struct FirstToken {
  Clock::time_point at;
  bool seen = false;
};

int on_token(int32_t, const char*, size_t, void* user) {
  auto* f = static_cast<FirstToken*>(user);
  if (!f->seen) f->at = Clock::now(), f->seen = true;
  return 0;
}

// Time to first token of "<image> question" when the question arrives `typing_s` after the image: with
// decoupled encoding the image starts encoding when chosen; without, only when the question comes.
double ttft(bluecl_model* m, const std::vector<uint8_t>& rgb, int w, int h, double typing_s, bool decoupled) {
  bluecl_session_params sp = bluecl_session_default_params();
  bluecl_session* s = nullptr;
  check(bluecl_session_create(m, &sp, &s), "creating a session");
  SessionPtr so(s);
  bluecl_image* img = nullptr;
  if (decoupled) check(bluecl_image_encode_rgb(m, rgb.data(), w, h, &img), "encoding");
  std::this_thread::sleep_for(std::chrono::duration<double>(typing_s));  // the user types the question
  const auto asked = Clock::now();
  if (!decoupled) check(bluecl_image_encode_rgb(m, rgb.data(), w, h, &img), "encoding");
  ImagePtr owner(img);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 1;
  gp.chat = 1;
  const bluecl_image* imgs[] = {img};
  gp.images = imgs;
  gp.n_images = 1;
  FirstToken f;
  gp.on_token = on_token;
  gp.user = &f;
  check(bluecl_generate(s, "What is in this picture?", &gp, nullptr), "generating");
  return std::chrono::duration<double>(f.at - asked).count();
}

}  // namespace

std::vector<Row> bench_images(const std::string& model, const std::string& mmproj, const std::string& device,
                              int64_t threads, int64_t reps, double typing_s) {
  std::vector<Row> rows;
  ModelPtr m = load(model, mmproj, device, threads);
  check(bluecl_model_set_vision_release(m.get(), 0), "keeping the tower");
  bluecl_vision_info vi;
  check(bluecl_model_get_vision_info(m.get(), &vi), "vision info");
  const int T = vi.image_size;
  std::vector<float> tile(size_t(3) * T * T);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : tile) v = u(rng);
  const std::vector<uint8_t> tall = picture(2 * T, 4 * T);
  auto one_tile = [&] {
    bluecl_image* img = nullptr;
    const auto t0 = Clock::now();
    check(bluecl_image_encode_tiles(m.get(), tile.data(), 1, &img), "encoding a tile");
    ImagePtr owner(img);
    check(bluecl_image_wait(img), "encoding a tile");
    return since(t0);
  };
  one_tile();  // uploads weights, compiles
  Row r1{"encode 1 tile", {}, "s"};
  for (int64_t i = 0; i < reps; ++i) r1.values.push_back(one_tile());
  rows.push_back(r1);
  const std::string name =
      "encode " + std::to_string(2 * T) + "x" + std::to_string(4 * T) + " (2:4, 9 tiles)";
  const bool device_present = device != "cpu" && bluecl_device_count() > 0;
  for (int mode : device_present ? std::vector<int>{0, 2, 3} : std::vector<int>{0}) {
    check(bluecl_model_set_vision_pipeline(m.get(), mode), "setting the pipeline mode");
    encode_seconds(m.get(), tall, 2 * T, 4 * T);  // graphs for this mode
    Row r{name + (mode == 0 ? "" : mode == 2 ? ", serial stages" : ", pipelined stages"), {}, "s"};
    for (int64_t i = 0; i < reps; ++i) r.values.push_back(encode_seconds(m.get(), tall, 2 * T, 4 * T));
    rows.push_back(r);
  }
  check(bluecl_model_set_vision_pipeline(m.get(), 0), "setting the pipeline mode");
  for (bool decoupled : {false, true}) {
    Row r{std::string("time to first token, 2:4 image, question ") + std::to_string(typing_s).substr(0, 3) +
              " s after the image, " + (decoupled ? "decoupled" : "encoded on asking"),
          {},
          "s"};
    for (int64_t i = 0; i < reps; ++i)
      r.values.push_back(ttft(m.get(), tall, 2 * T, 4 * T, typing_s, decoupled));
    rows.push_back(r);
  }
  encode_seconds(m.get(), tall, 2 * T, 4 * T);
  rows.push_back({"RSS with the vision tower loaded", {rss_gib()}, "GiB"});
  check(bluecl_model_set_vision_release(m.get(), 1), "releasing the tower");
  encode_seconds(m.get(), tall, 2 * T, 4 * T);
  check(bluecl_model_wait_vision(m.get()), "waiting for the release");
  rows.push_back({"RSS after the vision tower is freed", {rss_gib()}, "GiB"});
  return rows;
}

}  // namespace bluecl::cli
