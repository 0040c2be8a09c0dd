// Fuzz target "gguf": GgufFile::open on any bytes, then every metadata getter on every key (and on a
// missing one), every tensor looked up by name with the first and last byte of its data read, and the
// vocabulary load with a short encode/decode when the file has one. Bad input must end in Error.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/tokenizer.h"

namespace bluecl::fuzz {
namespace {

template <typename F>
void expect_error_or_value(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    expect_input_error(e);
    // A key present with another type: BadFile naming it.
  }
}

void every_getter(const GgufFile& g, const std::string& key) {
  (void)g.has(key);
  (void)g.type(key);
  (void)g.array_type(key);
  expect_error_or_value([&] { (void)g.get_string(key); });
  expect_error_or_value([&] { (void)g.get_int(key); });
  expect_error_or_value([&] { (void)g.get_float(key); });
  expect_error_or_value([&] { (void)g.get_bool(key); });
  expect_error_or_value([&] { (void)g.get_string_array(key); });
  expect_error_or_value([&] { (void)g.get_float_array(key); });
  expect_error_or_value([&] { (void)g.get_int_array(key); });
  expect_error_or_value([&] { (void)g.require_string(key); });
  expect_error_or_value([&] { (void)g.require_int(key); });
  expect_error_or_value([&] { (void)g.require_float(key); });
}

int run(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> g;
  try {
    g = GgufFile::open(as_file(data, size));
  } catch (const Error& e) {
    expect_input_error(e);
    return 0;
  }
  BLUECL_FUZZ_CHECK(g->file_size() == size);
  for (const std::string& key : g->keys()) every_getter(*g, key);
  every_getter(*g, "bluecl.fuzz.absent");
  volatile uint8_t sink = 0;
  for (const GgufTensor& t : g->tensors()) {
    BLUECL_FUZZ_CHECK(g->find_tensor(t.name) != nullptr);
    expect_error_or_value([&] { (void)g->require_tensor(t.name, t.shape); });
    if (t.bytes > 0) {
      const auto* p = static_cast<const uint8_t*>(t.data);
      BLUECL_FUZZ_CHECK(t.bytes <= size);
      sink = sink + p[0] + p[t.bytes - 1];
    }
  }
  expect_error_or_value([&] {
    const auto tok = Tokenizer::create(load_vocab(*g));
    const std::vector<int32_t> ids = tok->encode("Hello world, <s> 42!", true, true);
    for (int32_t id : ids) BLUECL_FUZZ_CHECK(id >= 0 && id < tok->n_vocab());
    (void)tok->decode(ids, true, true);
  });
  return 0;
}

// Small vocabulary files of both kinds (cut from tests/data/vocab) and a few files with tensors.
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  const std::string dir = temp_dir();
  emit("vocab-llama-300", write_small_vocab("llama", 300, dir + "/a.gguf"));
  emit("vocab-gpt2-300", write_small_vocab("gpt2", 300, dir + "/b.gguf"));
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("general.alignment", 64);
  w.set_i32("some.i32", -7);
  w.set_u64("some.u64", 1ull << 40);
  w.set_f32("some.f32", 0.5f);
  w.set_bool("some.bool", true);
  w.set_f32_array("some.floats", {1, 2, 3});
  w.set_i32_array("some.ints", {4, 5, 6});
  w.set_string_array("some.strings", {"x", "", "yz"});
  const std::vector<float> f32(2 * 32, 0.25f);
  w.add_tensor("a.weight", DType::F32, Shape{2, 32}, f32.data());
  const std::vector<uint16_t> f16(3 * 32, 0x3c00);
  w.add_tensor("b.weight", DType::F16, Shape{3, 32}, f16.data());
  const std::vector<uint8_t> q8(dtype_bytes(DType::Q8_0, 64), 1);
  w.add_tensor("c.weight", DType::Q8_0, Shape{2, 32}, q8.data());
  const std::vector<uint8_t> q4(dtype_bytes(DType::Q4_0, 32), 2);
  w.add_tensor("d.weight", DType::Q4_0, Shape{1, 32}, q4.data());
  w.write(dir + "/c.gguf");
  emit("tensors", read_bytes(dir + "/c.gguf"));
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(gguf, bluecl::fuzz::run, bluecl::fuzz::seeds)
