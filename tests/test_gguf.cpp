// GGUF reader and writer: the reference models and vocabularies read as documented, the writer round
// trips every value type and dtype, and broken or hostile files are refused with Error(BadFile, Io or
// Unsupported) whose message names the problem, never a crash or a huge allocation.
#include "graph/base/error.h"
#include "graph/base/random_fill.h"
#include "host/gguf/gguf.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

namespace bluecl {
namespace {

using testing::data_path;

// GGUF bytes built by hand, for files the writer would refuse to produce.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& key(std::string_view k, GgufType t) { return str(k).u32(static_cast<uint32_t>(t)); }
  Bytes& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t align) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

Bytes header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  Bytes h;
  h.b = {'G', 'G', 'U', 'F'};
  return h.u32(version).u64(n_tensors).u64(n_kv);
}

// One key and one f32 tensor "w" of shape [2, 32]: the base of most broken files below.
Bytes valid_small() {
  Bytes f = header(3, 1, 1);
  f.key("general.architecture", GgufType::String).str("llama");
  f.tensor("w", {32, 2}, kGgmlF32, 0).pad(32);
  for (int i = 0; i < 64; ++i) f.put<float>(static_cast<float>(i));
  return f;
}

// Whether `dir` holds a temporary left by an atomic write of `name` (name.tmp-PID-...).
bool has_temp_of(const std::string& dir, const std::string& name) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind(name + ".tmp", 0) == 0) return true;
  return false;
}

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("bluecl-gguf"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return p;
  }

  // Opening `bytes` must throw Error(status) whose message holds `phrase` (and the path).
  void expect_open_error(const std::vector<uint8_t>& bytes, Status status, const std::string& phrase) {
    expect_error_at(write("broken.gguf", bytes), status, phrase);
  }
  static void expect_error_at(const std::string& path, Status status, const std::string& phrase) {
    try {
      GgufFile::open(path);
      ADD_FAILURE() << "opened " << path << "; expected an error containing '" << phrase << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), status) << e.what();
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << "message: " << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "message: " << e.what();
    }
  }

  std::string dir_;
};

template <typename F>
void expect_throws(F&& f, Status status, const std::string& phrase) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << phrase << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << "message: " << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------
// (a) reference files

TEST_F(GgufTest, ReadsTinyLlamaQ4_0) {
  auto f = GgufFile::open(data_path("golden/tiny-a-q4_0.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->require_string("general.architecture"), "llama");
  EXPECT_EQ(f->require_int("llama.embedding_length"), 256);
  EXPECT_EQ(f->require_int("llama.block_count"), 3);
  EXPECT_EQ(f->require_int("llama.attention.head_count"), 4);
  EXPECT_EQ(f->require_int("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(f->require_int("llama.feed_forward_length"), 768);
  EXPECT_NEAR(f->require_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->type("llama.embedding_length"), GgufType::U32);
  EXPECT_EQ(f->array_type("tokenizer.ggml.tokens"), GgufType::String);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 2048u);
  EXPECT_FALSE(f->get_int("no.such.key"));

  // 3 layers x 9 tensors + token_embd, output_norm, output.
  EXPECT_EQ(f->tensors().size(), 30u);
  const GgufTensor& embd = f->require_tensor("token_embd.weight", Shape{2048, 256});
  EXPECT_EQ(embd.ggml_type, kGgmlQ8_0);
  EXPECT_EQ(embd.dtype, DType::Q8_0);
  EXPECT_EQ(embd.bytes, 2048u * 256 / 32 * 34);
  EXPECT_EQ(f->require_tensor("output.weight", Shape{2048, 256}).dtype, DType::Q8_0);
  EXPECT_EQ(f->require_tensor("blk.0.attn_q.weight", Shape{256, 256}).dtype, DType::Q4_0);
  EXPECT_EQ(f->require_tensor("blk.2.attn_k.weight", Shape{128, 256}).dtype, DType::Q4_0);
  EXPECT_EQ(f->require_tensor("blk.1.ffn_down.weight", Shape{256, 768}).dtype, DType::Q4_0);
  EXPECT_EQ(f->require_tensor("blk.1.ffn_gate.weight", Shape{768, 256}).dtype, DType::Q4_0);
  EXPECT_EQ(f->require_tensor("output_norm.weight", Shape{256}).dtype, DType::F32);
  for (const GgufTensor& t : f->tensors()) {
    EXPECT_EQ(t.offset % f->alignment(), 0u) << t.name;
    EXPECT_EQ(t.bytes, dtype_bytes(*t.dtype, t.shape.numel())) << t.name;
  }

  // Data pointers follow the offsets, and the bytes are the file's.
  const GgufTensor& first = f->tensors().front();
  for (const GgufTensor& t : f->tensors()) {
    EXPECT_EQ(static_cast<const uint8_t*>(t.data) - static_cast<const uint8_t*>(first.data),
              static_cast<ptrdiff_t>(t.offset - first.offset));
  }
  // Find where the data section starts from one tensor's bytes, then check another tensor against it.
  const std::vector<uint8_t> raw = testing::read_bytes(f->path());
  const GgufTensor& norm = f->require_tensor("output_norm.weight");
  const auto* base = static_cast<const uint8_t*>(norm.data);
  const auto at = std::search(raw.begin(), raw.end(), base, base + norm.bytes);
  ASSERT_NE(at, raw.end());
  const size_t data_start = static_cast<size_t>(at - raw.begin()) - norm.offset;
  EXPECT_EQ(data_start % 32, 0u);
  EXPECT_EQ(std::memcmp(raw.data() + data_start + embd.offset, embd.data, embd.bytes), 0);

  expect_throws(
      [&] {
        f->require_tensor("token_embd.weight", Shape{256, 2048});
      },
      Status::BadFile, "has shape [2048, 256], expected [256, 2048]");
  expect_throws([&] { f->require_tensor("blk.9.attn_q.weight"); }, Status::BadFile,
                "'blk.9.attn_q.weight' is missing");
  expect_throws([&] { f->require_int("llama.nope"); }, Status::BadFile,
                "required key 'llama.nope' is missing");
  expect_throws([&] { f->get_int("general.architecture"); }, Status::BadFile,
                "key 'general.architecture' has type string, expected an integer");
  expect_throws([&] { f->get_string_array("llama.block_count"); }, Status::BadFile,
                "expected array of string");

  // Releasing pages of any range is harmless, and the data reads back afterwards (from the file).
  std::vector<uint8_t> before(base, base + norm.bytes);
  f->release_pages(norm.data, norm.bytes);
  f->release_pages(embd.data, embd.bytes);
  f->release_pages(nullptr, 100);
  f->release_pages(embd.data, 0);
  f->release_pages(base - 100000, 1u << 30);
  EXPECT_EQ(std::memcmp(before.data(), norm.data, norm.bytes), 0);
}

TEST_F(GgufTest, ReadsTinyBluelm) {
  auto f = GgufFile::open(data_path("golden/tiny-c-bluelm-q4_0.gguf"));
  EXPECT_EQ(f->require_string("general.architecture"), "bluelm");
  EXPECT_EQ(f->require_int("bluelm.embedding_length"), 256);
  EXPECT_EQ(f->require_int("bluelm.block_count"), 2);
  EXPECT_EQ(f->require_int("bluelm.attention.head_count"), 2);
  EXPECT_EQ(f->require_int("bluelm.feed_forward_length"), 704);
  EXPECT_EQ(f->tensors().size(), 2u * 9 + 5);
  EXPECT_EQ(f->require_tensor("token_embd.weight", Shape{2048, 256}).dtype, DType::F16);
  EXPECT_EQ(f->require_tensor("output.weight", Shape{2048, 256}).dtype, DType::Q8_0);
  EXPECT_EQ(f->require_tensor("token_embd_norm.weight", Shape{256}).dtype, DType::F32);
  EXPECT_EQ(f->require_tensor("token_embd_norm.bias", Shape{256}).dtype, DType::F32);
  EXPECT_EQ(f->require_tensor("blk.1.ffn_up.weight", Shape{704, 256}).dtype, DType::Q4_0);
  EXPECT_EQ(f->require_tensor("blk.1.attn_v.weight", Shape{256, 256}).dtype, DType::Q4_0);
}

TEST_F(GgufTest, ReadsVisionTower) {
  auto f = GgufFile::open(data_path("golden/tiny-v-q8_0.gguf"));
  EXPECT_EQ(f->require_string("general.architecture"), "clip");
  EXPECT_EQ(f->get_bool("clip.has_vision_encoder"), true);
  EXPECT_EQ(f->require_int("clip.vision.embedding_length"), 96);
  EXPECT_EQ(f->require_int("clip.vision.image_size"), 98);
  const auto mean = f->get_float_array("clip.vision.image_mean");
  ASSERT_TRUE(mean);
  EXPECT_EQ(*mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(f->require_tensor("v.patch_embd.weight").shape, (Shape{96, 3, 14, 14}));
  EXPECT_EQ(f->require_tensor("v.position_embd.weight").shape, (Shape{49, 96}));
}

TEST_F(GgufTest, ReadsLlamaVocabulary) {
  auto f = GgufFile::open(data_path("vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->require_string("tokenizer.ggml.model"), "llama");
  const auto t0 = std::chrono::steady_clock::now();
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  const auto scores = f->get_float_array("tokenizer.ggml.scores");
  const auto types = f->get_int_array("tokenizer.ggml.token_type");
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(tokens && scores && types);
  ASSERT_EQ(tokens->size(), 32000u);
  EXPECT_EQ(scores->size(), 32000u);
  EXPECT_EQ(types->size(), 32000u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ((*types)[1], 3);  // control
  EXPECT_EQ((*types)[3], 6);  // byte
  EXPECT_EQ((*types)[1000], 1);
  EXPECT_LT(ms, 500.0) << "reading a 32000-token vocabulary is too slow";
  EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
}

TEST_F(GgufTest, ReadsGpt2Vocabulary) {
  auto f = GgufFile::open(data_path("vocab/ggml-vocab-gpt-2.gguf"));
  EXPECT_EQ(f->require_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 50257u);
  const auto merges = f->get_string_array("tokenizer.ggml.merges");
  ASSERT_TRUE(merges);
  EXPECT_GT(merges->size(), 40000u);
  EXPECT_NE((*merges)[0].find(' '), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// (b) writer round trips

TEST_F(GgufTest, WriterRoundTripsValuesAndTensors) {
  for (uint32_t alignment : {0u, 64u}) {
    GgufWriter w;
    w.set_string("s", "hello, world");
    w.set_string("empty", "");
    w.set_u32("u32", 4000000000u);
    w.set_i32("i32", -7);
    w.set_u64("u64", 1ull << 40);
    w.set_u64("u64.big", ~0ull);
    w.set_f32("f32", 0.125f);
    w.set_bool("yes", true);
    w.set_bool("no", false);
    w.set_string_array("strs", {"a", "", "ccc", std::string("nul\0in", 6)});
    w.set_f32_array("floats", {1.5f, -2.0f, 3.25f});
    w.set_i32_array("ints", {-1, 0, 2147483647});
    w.set_i32("i32", -8);  // replaces the earlier value, keeping its place
    if (alignment) w.set_u32("general.alignment", alignment);

    struct Spec {
      std::string name;
      DType dtype;
      Shape shape;
    };
    const std::vector<Spec> specs = {{"t.f32", DType::F32, Shape{3, 5}},
                                     {"t.f16", DType::F16, Shape{7}},
                                     {"t.q8_0", DType::Q8_0, Shape{2, 64}},
                                     {"t.q4_0", DType::Q4_0, Shape{2, 1, 3, 32}},
                                     {"t.i32", DType::I32, Shape{1, 1, 1, 1}}};
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < specs.size(); ++i) {
      data.push_back(random_bytes(dtype_bytes(specs[i].dtype, specs[i].shape.numel()), i + alignment));
      w.add_tensor(specs[i].name, specs[i].dtype, specs[i].shape, data.back().data());
    }
    const std::string path = dir_ + "/rt.gguf";
    w.write(path);
    EXPECT_FALSE(has_temp_of(dir_, "rt.gguf"));

    auto f = GgufFile::open(path);
    const size_t align = alignment ? alignment : 32;
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->file_size() % align, 0u);
    const std::vector<std::string> want_keys = {"s",   "empty", "u32", "i32",  "u64",    "u64.big",
                                                "f32", "yes",   "no",  "strs", "floats", "ints"};
    std::vector<std::string> keys = f->keys();
    if (alignment) {
      EXPECT_EQ(keys.back(), "general.alignment");
      keys.pop_back();
    }
    EXPECT_EQ(keys, want_keys);
    EXPECT_EQ(f->get_string("s"), "hello, world");
    EXPECT_EQ(f->get_string("empty"), "");
    EXPECT_EQ(f->get_int("u32"), 4000000000ll);
    EXPECT_EQ(f->get_int("i32"), -8);
    EXPECT_EQ(f->type("i32"), GgufType::I32);
    EXPECT_EQ(f->get_int("u64"), 1ll << 40);
    expect_throws([&] { f->get_int("u64.big"); }, Status::BadFile, "does not fit int64");
    EXPECT_EQ(f->get_float("f32"), 0.125);
    EXPECT_EQ(f->get_bool("yes"), true);
    EXPECT_EQ(f->get_bool("no"), false);
    EXPECT_EQ(*f->get_string_array("strs"),
              (std::vector<std::string>{"a", "", "ccc", std::string("nul\0in", 6)}));
    EXPECT_EQ(*f->get_float_array("floats"), (std::vector<float>{1.5f, -2.0f, 3.25f}));
    EXPECT_EQ(*f->get_int_array("ints"), (std::vector<int64_t>{-1, 0, 2147483647}));
    expect_throws([&] { f->get_float("u32"); }, Status::BadFile,
                  "key 'u32' has type u32, expected f32 or f64");
    expect_throws([&] { f->get_bool("s"); }, Status::BadFile, "expected bool");
    expect_throws([&] { f->get_float_array("ints"); }, Status::BadFile, "has type array of 3 i32");

    ASSERT_EQ(f->tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const GgufTensor& t = f->tensors()[i];
      EXPECT_EQ(t.name, specs[i].name);
      EXPECT_EQ(t.dtype, specs[i].dtype);
      EXPECT_EQ(t.ggml_type, ggml_from_dtype(specs[i].dtype));
      EXPECT_EQ(t.shape, specs[i].shape);
      EXPECT_EQ(t.offset % align, 0u);
      ASSERT_EQ(t.bytes, data[i].size());
      EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.bytes), 0) << t.name;
    }
  }
}

TEST_F(GgufTest, WriterStreamsFilledTensors) {
  GgufWriter w;
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    w.add_tensor(fmt::format("t{}", i), DType::F32, Shape{i + 1, 8}, [i, &calls](uint8_t* dst) {
      ++calls;
      auto* p = reinterpret_cast<float*>(dst);
      for (int j = 0; j < (i + 1) * 8; ++j) p[j] = static_cast<float>(100 * i + j);
    });
  }
  EXPECT_EQ(calls, 0);  // nothing is produced before writing
  w.write(dir_ + "/fill.gguf");
  EXPECT_EQ(calls, 3);
  auto f = GgufFile::open(dir_ + "/fill.gguf");
  for (int i = 0; i < 3; ++i) {
    const GgufTensor& t = f->require_tensor(fmt::format("t{}", i), Shape{i + 1, 8});
    const auto* p = static_cast<const float*>(t.data);
    for (int j = 0; j < (i + 1) * 8; ++j) ASSERT_EQ(p[j], static_cast<float>(100 * i + j));
  }
}

TEST_F(GgufTest, WriterFailuresAreClean) {
  GgufWriter w;
  w.set_u32("a", 1);
  expect_throws([&] { w.write(dir_ + "/no/such/dir/x.gguf"); }, Status::Io, "no/such/dir/x.gguf.tmp");
  std::vector<float> v(32);
  expect_throws(
      [&] {
        w.add_tensor("q", DType::Q4_0, Shape{2, 16}, v.data());
      },
      Status::InvalidArgument, "multiple of 32");
  w.add_tensor("q", DType::F32, Shape{32}, v.data());
  expect_throws([&] { w.add_tensor("q", DType::F32, Shape{32}, v.data()); }, Status::InvalidArgument,
                "twice");
  // A fill callback that throws leaves no file behind.
  w.add_tensor("boom", DType::F32, Shape{4}, [](uint8_t*) { throw Error(Status::Cancelled, "stop"); });
  expect_throws([&] { w.write(dir_ + "/boom.gguf"); }, Status::Cancelled, "stop");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/boom.gguf"));
  EXPECT_FALSE(has_temp_of(dir_, "boom.gguf"));
}

// Every GGUF value type, arrays of several types and nested arrays, written by hand.
Bytes all_value_types() {
  Bytes f = header(3, 0, 17);
  f.key("u8", GgufType::U8).put<uint8_t>(200);
  f.key("i8", GgufType::I8).put<int8_t>(-100);
  f.key("u16", GgufType::U16).put<uint16_t>(60000);
  f.key("i16", GgufType::I16).put<int16_t>(-30000);
  f.key("u32", GgufType::U32).put<uint32_t>(4000000000u);
  f.key("i32", GgufType::I32).put<int32_t>(-2000000000);
  f.key("f32", GgufType::F32).put<float>(-0.5f);
  f.key("bool", GgufType::Bool).put<uint8_t>(1);
  f.key("string", GgufType::String).str("ünïcødé");
  f.key("u64", GgufType::U64).put<uint64_t>(1ull << 62);
  f.key("i64", GgufType::I64).put<int64_t>(-(1ll << 62));
  f.key("f64", GgufType::F64).put<double>(3.141592653589793);
  f.key("arr.u8", GgufType::Array).u32(0).u64(3).put<uint8_t>(1).put<uint8_t>(2).put<uint8_t>(255);
  f.key("arr.f64", GgufType::Array).u32(12).u64(2).put<double>(0.25).put<double>(-1e300);
  f.key("arr.bool", GgufType::Array).u32(7).u64(2).put<uint8_t>(1).put<uint8_t>(0);
  f.key("arr.empty", GgufType::Array).u32(8).u64(0);
  // [["x", "yz"], []]: an array of arrays of strings.
  f.key("arr.nested", GgufType::Array).u32(9).u64(2);
  f.u32(8).u64(2).str("x").str("yz");
  f.u32(8).u64(0);
  return f;
}

TEST_F(GgufTest, ReadsAndCopiesEveryValueType) {
  const Bytes src = all_value_types();
  auto f = GgufFile::open(write("all.gguf", src.b));
  EXPECT_EQ(f->get_int("u8"), 200);
  EXPECT_EQ(f->get_int("i8"), -100);
  EXPECT_EQ(f->get_int("u16"), 60000);
  EXPECT_EQ(f->get_int("i16"), -30000);
  EXPECT_EQ(f->get_int("u32"), 4000000000ll);
  EXPECT_EQ(f->get_int("i32"), -2000000000);
  EXPECT_EQ(f->get_float("f32"), -0.5);
  EXPECT_EQ(f->get_bool("bool"), true);
  EXPECT_EQ(f->get_string("string"), "ünïcødé");
  EXPECT_EQ(f->get_int("u64"), 1ll << 62);
  EXPECT_EQ(f->get_int("i64"), -(1ll << 62));
  EXPECT_EQ(f->get_float("f64"), 3.141592653589793);
  EXPECT_EQ(*f->get_int_array("arr.u8"), (std::vector<int64_t>{1, 2, 255}));
  EXPECT_EQ(*f->get_float_array("arr.f64"), (std::vector<float>{0.25f, static_cast<float>(-1e300)}));
  EXPECT_EQ(f->array_type("arr.bool"), GgufType::Bool);
  EXPECT_TRUE(f->get_string_array("arr.empty")->empty());
  EXPECT_EQ(f->array_type("arr.nested"), GgufType::Array);
  EXPECT_FALSE(f->array_type("u8"));
  expect_throws([&] { f->get_string_array("arr.nested"); }, Status::BadFile, "array of 2 array");

  // Copying every key in order reproduces the metadata byte for byte (then the writer pads).
  GgufWriter w;
  for (const std::string& k : f->keys()) w.copy_kv(*f, k);
  expect_throws([&] { w.copy_kv(*f, "absent"); }, Status::BadFile, "'absent'");
  w.write(dir_ + "/copy.gguf");
  const std::vector<uint8_t> out = testing::read_bytes(dir_ + "/copy.gguf");
  ASSERT_EQ(out.size(), (src.b.size() + 31) / 32 * 32);
  EXPECT_TRUE(std::equal(src.b.begin(), src.b.end(), out.begin()));
  auto g = GgufFile::open(dir_ + "/copy.gguf");
  EXPECT_EQ(g->keys(), f->keys());
  EXPECT_EQ(g->get_string("string"), "ünïcødé");
}

// ---------------------------------------------------------------------------------------------------
// (c) broken files

TEST_F(GgufTest, RejectsBadHeaders) {
  Bytes f = valid_small();
  GgufFile::open(write("ok.gguf", f.b));  // the base really is valid

  Bytes magic = f;
  magic.b[3] = 'X';
  expect_open_error(magic.b, Status::BadFile, "bad magic 47475558");
  expect_open_error(header(2, 0, 0).b, Status::Unsupported, "GGUF version 2 is not supported");
  expect_open_error(header(1, 0, 0).b, Status::Unsupported, "GGUF version 1");
  expect_open_error(header(99, 0, 0).b, Status::BadFile, "unknown GGUF version 99");
  expect_open_error(header(0x03000000, 0, 0).b, Status::BadFile, "big-endian");
  expect_open_error({f.b.begin(), f.b.begin() + 10}, Status::BadFile,
                    "truncated: the tensor count needs 8 bytes at offset 8");
  expect_open_error({f.b.begin(), f.b.begin() + 3}, Status::BadFile, "bad magic");
  expect_open_error({}, Status::BadFile, "empty file");
  expect_open_error(header(3, 1ull << 40, 0).b, Status::BadFile, "tensor count 1099511627776");
  expect_open_error(header(3, 0, 1ull << 60).b, Status::BadFile, "metadata count 1152921504606846976");
  // A tensor count that fits the file size but not the bytes after the metadata.
  Bytes many = header(3, 3, 1);
  many.key("k", GgufType::String).str(std::string(60, 'x'));
  many.tensor("w", {32}, kGgmlF32, 0);
  expect_open_error(many.b, Status::BadFile, "tensor count 3");
}

TEST_F(GgufTest, RejectsBadMetadata) {
  // The key string is cut short by the end of the file.
  Bytes cut = header(3, 0, 1);
  cut.str("general.architecture");
  cut.b.resize(cut.b.size() - 5);
  expect_open_error(cut.b, Status::BadFile, "key of 20 bytes at offset 24 runs past the end of the file");

  Bytes huge_str = header(3, 0, 1);
  huge_str.key("name", GgufType::String).u64(1ull << 62).zeros(16);
  expect_open_error(huge_str.b, Status::BadFile,
                    "string value of 4611686018427387904 bytes at offset 40 runs past");

  Bytes huge_arr = header(3, 0, 1);
  huge_arr.key("tokens", GgufType::Array).u32(static_cast<uint32_t>(GgufType::U32)).u64(1ull << 60).zeros(64);
  expect_open_error(huge_arr.b, Status::BadFile, "array of 1152921504606846976 u32 elements");

  Bytes huge_str_arr = header(3, 0, 1);
  huge_str_arr.key("tokens", GgufType::Array)
      .u32(static_cast<uint32_t>(GgufType::String))
      .u64(1ull << 60)
      .zeros(64);
  expect_open_error(huge_str_arr.b, Status::BadFile, "cannot fit in the 64 bytes left");

  Bytes bad_type = header(3, 0, 1);
  bad_type.key("k", static_cast<GgufType>(13)).zeros(8);
  expect_open_error(bad_type.b, Status::BadFile, "unknown value type 13 at offset 33 (in key 'k')");

  Bytes bad_elem = header(3, 0, 1);
  bad_elem.key("k", GgufType::Array).u32(77).u64(0);
  expect_open_error(bad_elem.b, Status::BadFile, "unknown array element type 77");

  Bytes deep = header(3, 0, 1);
  deep.key("deep", GgufType::Array);
  for (int i = 0; i < 5; ++i) deep.u32(static_cast<uint32_t>(GgufType::Array)).u64(1);
  deep.zeros(64);
  expect_open_error(deep.b, Status::BadFile, "nested deeper than 4");

  Bytes dup = header(3, 0, 2);
  dup.key("a", GgufType::U32).u32(1).key("a", GgufType::U32).u32(2);
  expect_open_error(dup.b, Status::BadFile, "duplicate key at offset 41 (in key 'a')");

  Bytes boolean = header(3, 0, 1);
  boolean.key("b", GgufType::Bool).put<uint8_t>(2);
  expect_open_error(boolean.b, Status::BadFile, "bool value 2");

  Bytes align = header(3, 0, 1);
  align.key("general.alignment", GgufType::U32).u32(24);
  expect_open_error(align.b, Status::BadFile, "general.alignment 24 is not a power of two");
  Bytes align0 = header(3, 0, 1);
  align0.key("general.alignment", GgufType::U32).u32(0);
  expect_open_error(align0.b, Status::BadFile, "general.alignment 0 is not a power of two");
  Bytes align_type = header(3, 0, 1);
  align_type.key("general.alignment", GgufType::U64).u64(32);
  expect_open_error(align_type.b, Status::BadFile, "general.alignment must be a u32, not u64");

  // Hostile key names are escaped in messages.
  Bytes weird = header(3, 0, 2);
  weird.key("\x01\n", GgufType::U8).put<uint8_t>(0).key("\x01\n", GgufType::U8).put<uint8_t>(0);
  expect_open_error(weird.b, Status::BadFile, "key '\\x01\\x0a'");
}

// A file with one tensor described by the caller and `data_bytes` bytes of data.
Bytes one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  Bytes f = header(3, 1, 0);
  f.tensor("blk.0.attn_q.weight", std::move(dims), type, offset).pad(32).zeros(data_bytes);
  return f;
}

TEST_F(GgufTest, RejectsBadTensorInfos) {
  expect_open_error(one_tensor({}, kGgmlF32, 0, 64).b, Status::BadFile,
                    "n_dims 0 at offset 51 is outside 1..4");
  expect_open_error(one_tensor({1, 1, 1, 1, 1}, kGgmlF32, 0, 64).b, Status::BadFile, "n_dims 5");
  expect_open_error(one_tensor({1ull << 32, 1ull << 32}, kGgmlF32, 0, 64).b, Status::BadFile,
                    "overflows int64");
  expect_open_error(one_tensor({1ull << 63, 1}, kGgmlF32, 0, 64).b, Status::BadFile, "must be positive");
  expect_open_error(one_tensor({4, 0}, kGgmlF32, 0, 64).b, Status::BadFile, "dimension 1 is 0");
  expect_open_error(one_tensor({1ull << 40}, kGgmlF32, 0, 64).b, Status::BadFile, "its 4398046511104 bytes");
  expect_open_error(one_tensor({1ull << 61, 2}, 28, 0, 64).b, Status::BadFile, "byte size of");
  expect_open_error(one_tensor({16}, kGgmlF32, 1024, 64).b, Status::BadFile,
                    "tensor 'blk.0.attn_q.weight': its 64 bytes at data offset 1024");
  expect_open_error(one_tensor({16}, kGgmlF32, 8, 128).b, Status::BadFile,
                    "data offset 8 (at offset 67) is not a multiple of the alignment 32");
  expect_open_error(one_tensor({16}, 99, 0, 64).b, Status::BadFile,
                    "unknown ggml type 99 at offset 63 (in tensor 'blk.0.attn_q.weight')");
  expect_open_error(one_tensor({16}, 4, 0, 64).b, Status::BadFile, "unknown ggml type 4");  // q4_2, removed
  expect_open_error(one_tensor({48, 2}, kGgmlQ4_0, 0, 128).b, Status::BadFile,
                    "row length 48 is not a multiple of the q4_0 block size 32");
  expect_open_error(one_tensor({128, 2}, 12, 0, 144).b, Status::BadFile,
                    "multiple of the q4_K block size 256");
  expect_open_error(one_tensor({256, 2}, 12, 0, 200).b, Status::BadFile, "its 288 bytes at data offset 0");

  Bytes empty_name = header(3, 1, 0);
  empty_name.tensor("", {8}, kGgmlF32, 0).pad(32).zeros(32);
  expect_open_error(empty_name.b, Status::BadFile, "empty name");

  Bytes dup = header(3, 2, 0);
  dup.tensor("w", {8}, kGgmlF32, 0).tensor("w", {8}, kGgmlF32, 32).pad(32).zeros(64);
  expect_open_error(dup.b, Status::BadFile, "duplicate tensor name (in tensor 'w')");

  // Truncated in the tensor data: the last tensor's bytes run past the end.
  Bytes f = valid_small();
  expect_open_error({f.b.begin(), f.b.end() - 10}, Status::BadFile, "run past the end of the file");
  // Cut inside the tensor infos: too few bytes left for the tensors it announces.
  expect_open_error({f.b.begin(), f.b.begin() + 80}, Status::BadFile,
                    "tensor count 1 (at offset 8) is implausible");
}

TEST_F(GgufTest, UnloadableTypeIsUnsupportedOnlyWhenRequired) {
  auto path = write("q4k.gguf", one_tensor({256, 2}, 12, 0, 288).b);
  auto f = GgufFile::open(path);  // a known type loads: its bytes are bounds-checked
  const GgufTensor* t = f->find_tensor("blk.0.attn_q.weight");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->dtype);
  EXPECT_EQ(t->bytes, 288u);
  EXPECT_EQ(t->shape, (Shape{2, 256}));
  EXPECT_EQ(ggml_type_name(t->ggml_type), "q4_K");
  expect_throws(
      [&] { f->require_tensor("blk.0.attn_q.weight"); }, Status::Unsupported,
      "tensor 'blk.0.attn_q.weight' has type q4_K, which bluecl does not load (supported: f32, f16, "
      "q4_0, q8_0");
}

TEST_F(GgufTest, RejectsNonFiles) {
  expect_error_at(dir_, Status::Io, "is a directory");
  expect_error_at(dir_ + "/missing.gguf", Status::Io, "cannot open: No such file or directory");
}

TEST(GgmlTypes, NamesAndSizes) {
  EXPECT_EQ(ggml_type_name(12), "q4_K");
  EXPECT_EQ(ggml_type_name(35), "tq2_0");
  EXPECT_EQ(ggml_type_name(99), "type 99");
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::I32}) {
    EXPECT_EQ(dtype_from_ggml(ggml_from_dtype(t)), t);
  }
  EXPECT_FALSE(dtype_from_ggml(12));
  EXPECT_EQ(gguf_type_name(GgufType::F64), "f64");
}

// ---------------------------------------------------------------------------------------------------
// Random damage: every mutation of a small valid file either loads or throws bluecl::Error.

void exercise(const GgufFile& f) {
  for (const std::string& k : f.keys()) {
    try {
      switch (*f.type(k)) {
        case GgufType::String:
          (void)f.get_string(k);
          break;
        case GgufType::Bool:
          (void)f.get_bool(k);
          break;
        case GgufType::F32:
        case GgufType::F64:
          (void)f.get_float(k);
          break;
        case GgufType::Array:
          if (f.array_type(k) == GgufType::String)
            (void)f.get_string_array(k);
          else if (f.array_type(k) == GgufType::F32)
            (void)f.get_float_array(k);
          else
            (void)f.get_int_array(k);
          break;
        default:
          (void)f.get_int(k);
          break;
      }
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::BadFile) << e.what();
    }
  }
  unsigned sum = 0;
  for (const GgufTensor& t : f.tensors()) {
    const auto* p = static_cast<const uint8_t*>(t.data);
    sum += p[0] + p[t.bytes - 1];  // touches both ends: inside the mapping or a crash
    try {
      (void)f.require_tensor(t.name);
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::Unsupported) << e.what();
    }
  }
  (void)sum;
}

TEST_F(GgufTest, SurvivesRandomDamage) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("add_bos", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "bc", "def"});
  w.set_f32_array("scores", {0.0f, -1.0f, -2.0f});
  w.set_i32_array("types", {1, 2, 3});
  std::vector<float> x(64, 1.0f);
  w.add_tensor("a", DType::F32, Shape{2, 32}, x.data());
  std::vector<uint8_t> q(34 + 18);
  w.add_tensor("b", DType::Q8_0, Shape{1, 32}, q.data());
  w.add_tensor("c", DType::Q4_0, Shape{32}, q.data());
  w.write(dir_ + "/base.gguf");
  const std::vector<uint8_t> base = testing::read_bytes(dir_ + "/base.gguf");
  const size_t header_end = base.size() - 256 - 64 - 32;  // the metadata and tensor infos
  GgufFile::open(dir_ + "/base.gguf");

  // Thousands of small files: in memory when the system has a tmpfs, much faster than a disk.
  std::string fuzz_dir = dir_;
  if (std::filesystem::is_directory("/dev/shm")) {
    fuzz_dir = fmt::format("/dev/shm/bluecl-gguf-fuzz-{}", ::getpid());
    std::filesystem::create_directory(fuzz_dir);
  }
  std::mt19937_64 rng(1234);
  const uint64_t interesting[] = {0,   1,          3,          4,          31,         32,
                                  255, 1ull << 31, 1ull << 32, 1ull << 62, 1ull << 63, ~0ull};
  int loaded = 0, rejected = 0;
  const std::string path = fuzz_dir + "/fuzz.gguf";
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> b = base;
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {  // flip a few bytes, mostly in the header
      for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
        b[rng() % (rng() % 8 ? header_end : b.size())] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
    } else if (kind == 1) {  // cut the file short
      b.resize(rng() % b.size());
    } else if (kind == 2) {  // plant an extreme integer
      const size_t at = rng() % (header_end - 8);
      const uint64_t v = interesting[rng() % std::size(interesting)];
      std::memcpy(b.data() + at, &v, rng() % 2 ? 8 : 4);
    } else {  // random bytes over a stretch of the header
      const size_t at = rng() % header_end;
      for (size_t i = at; i < std::min(b.size(), at + 1 + rng() % 16); ++i)
        b[i] = static_cast<uint8_t>(rng());
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), b.size());
    try {
      auto f = GgufFile::open(path);
      exercise(*f);
      ++loaded;
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == Status::BadFile || e.status() == Status::Unsupported)
          << iter << ": " << e.what();
      ++rejected;
    }
  }
  if (fuzz_dir != dir_) std::filesystem::remove_all(fuzz_dir);
  EXPECT_GT(loaded, 50);
  EXPECT_GT(rejected, 500);
}

}  // namespace
}  // namespace bluecl
