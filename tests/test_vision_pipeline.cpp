// Pipelined tile encoding (spec section 2(c)): the CPU cuts the tiles of batch k+1 and runs their patch
// embedding while the device runs the blocks of batch k. Its tokens are identical to the serial run of the
// same two stages, match the golden tokens at every batch size, and its trace shows the overlap.
#include "host/runtime/trace.h"
#include "host/session/vision.h"
#include "tests/cl_testing.h"
#include "tests/testing.h"
#include "tools/model_gen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

namespace bluecl::testing {
namespace {

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i)
    num += (a[i] - b[i]) * double(a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

Devices& cl_devices() {
  // Released after the tests by cl_test_main (a static destructor may run after the driver is gone).
  static Devices& d = shared_until_tests_end(
      std::make_unique<Devices>(DeviceOptions{.device = "", .n_threads = 2, .placement = "device"}));
  return d;
}

const VitModel& tiny_v() {
  static std::unique_ptr<VitModel> m = VitModel::load(data_path("golden/tiny-v-f32.gguf"));
  return *m;
}

std::vector<float> tiles_repeated(int n) {  // the 3 golden tiles, cycled to n
  const std::vector<float> three = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  const size_t per = three.size() / 3;
  std::vector<float> out;
  for (int i = 0; i < n; ++i)
    out.insert(out.end(), three.begin() + (i % 3) * per, three.begin() + (i % 3 + 1) * per);
  return out;
}

TEST(VisionPipeline, PipelinedEqualsSerialBitForBit) {
  BLUECL_REQUIRE_CL();
  const std::vector<float> tiles = tiles_repeated(9);  // a 2:4 image's worth: batches 4 + 4 + 1
  VisionEncoder serial(tiny_v(), cl_devices(), {.batch = 4, .pipeline = VisionPipeline::Serial});
  VisionEncoder piped(tiny_v(), cl_devices(), {.batch = 4, .pipeline = VisionPipeline::On});
  EXPECT_TRUE(piped.pipelined());
  const std::vector<float> a = serial.encode(tiles), b = piped.encode(tiles);
  EXPECT_EQ(a, b);
  // Its plan shows the two stages, the first on the CPU.
  const std::string plan = piped.plan_text(4);
  EXPECT_NE(plan.find("stage 1"), std::string::npos) << plan;
  EXPECT_NE(plan.find("pinned: v.*=cpu"), std::string::npos) << plan;
}

TEST(VisionPipeline, MatchesGoldenAtEveryBatchSize) {
  BLUECL_REQUIRE_CL();
  const std::vector<float> tiles = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  const std::vector<float> ref = read_f32(data_path("golden/tiny-v-f32.tokens.f32"));
  for (int64_t batch : {1, 2, 3}) {
    VisionEncoder enc(tiny_v(), cl_devices(), {.batch = batch, .pipeline = VisionPipeline::On});
    EXPECT_LE(rel_l2(enc.encode(tiles), ref), 1e-4) << "batch " << batch;
  }
}

// A larger generated tower so that each stage takes long enough to see: in the trace, the CPU's work on
// some batch k+1 overlaps the device's blocks on batch k.
TEST(VisionPipeline, TraceShowsTheOverlap) {
  BLUECL_REQUIRE_CL();
  const std::string dir = temp_dir("bluecl-pipe");
  gen::GenOptions opt = gen::preset("tiny");
  opt.vit = gen::VitShape{
      .n_embd = 192, .n_layer = 6, .n_head = 4, .n_ff = 512, .image_size = 112, .patch_size = 14};
  opt.out = dir + "/m.gguf";
  opt.mmproj_out = dir + "/v.gguf";
  opt.vocab = data_path("vocab/ggml-vocab-llama-spm.gguf");
  gen::generate(opt);
  std::unique_ptr<VitModel> m = VitModel::load(opt.mmproj_out);
  VisionEncoder enc(*m, cl_devices(), {.batch = 4, .pipeline = VisionPipeline::On});
  const int64_t n = 9, per = m->hparams().tile_floats();
  const std::vector<float> tiles = random_floats(n * per, 3);
  enc.encode(tiles);  // builds the graphs and compiles
  Tracer::get().start();
  enc.encode(tiles);
  Tracer::get().stop();
  const std::vector<Tracer::Event> ev = Tracer::get().events();
  auto find = [&](const std::string& name) -> const Tracer::Event* {
    for (const Tracer::Event& e : ev)
      if (e.name == name) return &e;
    return nullptr;
  };
  int overlaps = 0;
  for (int k = 0; k + 1 < 3; ++k) {
    const Tracer::Event* dev = find("vit blocks " + std::to_string(k));
    const Tracer::Event* cpu = find("patch embedding " + std::to_string(k + 1));
    ASSERT_TRUE(dev && cpu) << Tracer::get().json();
    EXPECT_NE(dev->track, cpu->track);
    if (cpu->begin_us < dev->begin_us + dev->dur_us && dev->begin_us < cpu->begin_us + cpu->dur_us)
      ++overlaps;
  }
  EXPECT_GT(overlaps, 0) << Tracer::get().json();
  const std::string path = dir + "/trace.json";
  Tracer::get().write(path);
  EXPECT_NE(read_text(path).find("\"traceEvents\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bluecl::testing
