// The C API's versions and its growable params structs (bluecl.h, "Versions and the ABI"): the version
// macros match the library, every *_default_params() fills struct_size, every entry point that takes a
// params struct refuses a size it does not know with a message naming the struct, and read_params (the
// reader behind them, host/api/c_abi.h) takes an older, smaller layout with defaults for the fields it
// lacks, never reading the old struct's tail padding.
#include "bluecl/bluecl.hpp"
#include "host/api/c_abi.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace bluecl::testing {
namespace {

#define STR2(x) #x
#define STR(x) STR2(x)

TEST(CAbi, VersionMacrosMatchTheLibrary) {
  EXPECT_STREQ(bluecl_version(),
               STR(BLUECL_VERSION_MAJOR) "." STR(BLUECL_VERSION_MINOR) "." STR(BLUECL_VERSION_PATCH));
  EXPECT_EQ(bluecl_abi_version(), BLUECL_ABI_VERSION);
  EXPECT_GE(BLUECL_ABI_VERSION, 1);
}

TEST(CAbi, DefaultParamsFillTheirSize) {
  EXPECT_EQ(bluecl_model_default_params().struct_size, sizeof(bluecl_model_params));
  EXPECT_EQ(bluecl_session_default_params().struct_size, sizeof(bluecl_session_params));
  EXPECT_EQ(bluecl_sampler_default_params().struct_size, sizeof(bluecl_sampler_params));
  EXPECT_EQ(bluecl_generate_default_params().struct_size, sizeof(bluecl_generate_params));
  EXPECT_EQ(bluecl_generate_default_params().sampling.struct_size, sizeof(bluecl_sampler_params));
  EXPECT_EQ(bluecl_grid_default_params().struct_size, sizeof(bluecl_grid_params));
  EXPECT_EQ(bluecl_tune_default_params().struct_size, sizeof(bluecl_tune_params));
}

// The call's status is INVALID_ARGUMENT and its message names the struct and the size given.
void expect_refused(bluecl_status st, const char* name, uint32_t size) {
  EXPECT_EQ(st, BLUECL_ERR_INVALID_ARGUMENT) << name << " of size " << size;
  const std::string msg = bluecl_last_error();
  EXPECT_NE(msg.find(std::string(name) + ".struct_size is " + std::to_string(size)), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("_default_params()"), std::string::npos) << msg;
}

// Sizes no library knows: zero (a struct not filled by *_default_params()), the size field alone, and a
// newer header's.
constexpr uint32_t kBad[] = {0, 4, 1000};

TEST(CAbi, UnknownSizesAreRefused) {
  const std::string model = data_path("golden/tiny-a-f32.gguf");
  for (uint32_t size : kBad) {
    bluecl_model_params mp = bluecl_model_default_params();
    mp.device = "cpu";
    mp.struct_size = size;
    bluecl_model* m = nullptr;
    expect_refused(bluecl_model_load(model.c_str(), &mp, &m), "bluecl_model_params", size);
    EXPECT_EQ(m, nullptr);
    expect_refused(bluecl_model_load_vision(data_path("golden/tiny-v-f32.gguf").c_str(), &mp, &m),
                   "bluecl_model_params", size);
    bluecl_grid_params gr = bluecl_grid_default_params();
    gr.struct_size = size;
    int32_t gm = 0, gn = 0, nt = 0;
    expect_refused(bluecl_image_grid(800, 600, &gr, &gm, &gn, &nt), "bluecl_grid_params", size);
    bluecl_tune_params tp = bluecl_tune_default_params();
    tp.struct_size = size;
    expect_refused(bluecl_tune(&tp, nullptr, 0), "bluecl_tune_params", size);
  }
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = "cpu";
  ModelPtr m;
  ASSERT_EQ(bluecl_model_load(model.c_str(), &mp, out(m)), BLUECL_OK) << bluecl_last_error();
  for (uint32_t size : kBad) {
    bluecl_session_params sp = bluecl_session_default_params();
    sp.struct_size = size;
    bluecl_session* s = nullptr;
    expect_refused(bluecl_session_create(m.get(), &sp, &s), "bluecl_session_params", size);
    EXPECT_EQ(s, nullptr);
  }
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 64;
  SessionPtr s;
  ASSERT_EQ(bluecl_session_create(m.get(), &sp, out(s)), BLUECL_OK) << bluecl_last_error();
  for (uint32_t size : kBad) {
    bluecl_generate_params gp = bluecl_generate_default_params();
    gp.n_predict = 2;
    gp.struct_size = size;
    expect_refused(bluecl_generate(s.get(), "x", &gp, nullptr), "bluecl_generate_params", size);
    gp = bluecl_generate_default_params();
    gp.n_predict = 2;
    gp.sampling.struct_size = size;  // the embedded sampler params are checked too
    expect_refused(bluecl_generate(s.get(), "x", &gp, nullptr), "bluecl_sampler_params", size);
  }
  EXPECT_EQ(bluecl_session_n_past(s.get()), 0);  // nothing ran
  // The struct as *_default_params() fills it works, and so does NULL (the defaults).
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 2;
  gp.sampling.temperature = 0;
  EXPECT_EQ(bluecl_generate(s.get(), "x", &gp, nullptr), BLUECL_OK) << bluecl_last_error();
  int32_t gm = 0, gn = 0, nt = 0;
  EXPECT_EQ(bluecl_image_grid(800, 600, nullptr, &gm, &gn, &nt), BLUECL_OK);
}

// A struct that grew, as c_abi.h says to grow one: version 1 had a, b and c (20 bytes of fields, 24 with
// tail padding); version 2 appended d, which lives where v1's padding was, and e.
struct ParamsV1 {
  uint32_t struct_size;
  int32_t a;
  double b;
  int32_t c;
};
struct ParamsV2 {
  uint32_t struct_size;
  int32_t a;
  double b;
  int32_t c;
  int32_t d;
  double e;
};
constexpr capi::ParamsLayout kLayouts[] = {
    {sizeof(ParamsV1), offsetof(ParamsV1, c) + sizeof(int32_t)},
    {sizeof(ParamsV2), sizeof(ParamsV2)},
};
static_assert(capi::distinct_sizes(kLayouts));

TEST(CAbi, AnOlderSmallerStructGetsDefaultsForTheNewFields) {
  const ParamsV2 defaults{sizeof(ParamsV2), 1, 2.0, 3, 4, 5.0};
  // An old caller's struct, its tail padding full of garbage that must not reach field d.
  ParamsV1 old;
  std::memset(&old, 0xAB, sizeof old);
  old.struct_size = sizeof(ParamsV1);
  old.a = 10;
  old.b = 20.0;
  old.c = 30;
  const ParamsV2 got =
      capi::read_params(reinterpret_cast<const ParamsV2*>(&old), defaults, "params", kLayouts);
  EXPECT_EQ(got.struct_size, sizeof(ParamsV2));
  EXPECT_EQ(got.a, 10);
  EXPECT_EQ(got.b, 20.0);
  EXPECT_EQ(got.c, 30);
  EXPECT_EQ(got.d, 4);  // the default, not the padding
  EXPECT_EQ(got.e, 5.0);
  // The current layout is taken whole; NULL is the defaults.
  const ParamsV2 now{sizeof(ParamsV2), 10, 20.0, 30, 40, 50.0};
  EXPECT_EQ(capi::read_params(&now, defaults, "params", kLayouts).d, 40);
  EXPECT_EQ(capi::read_params<ParamsV2>(nullptr, defaults, "params", kLayouts).d, 4);
  // A size between the two is neither: refused.
  ParamsV2 odd = now;
  odd.struct_size = 28;
  try {
    capi::read_params(&odd, defaults, "bluecl_odd_params", kLayouts);
    ADD_FAILURE() << "a size between two layouts was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("bluecl_odd_params.struct_size is 28"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("bluecl_odd_default_params()"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bluecl::testing
