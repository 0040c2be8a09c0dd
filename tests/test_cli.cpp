// The bluecl CLI as a user runs it: exit codes, --help, tokenize against every line of the vocabulary
// test files, logits against the golden references, grid against every golden case, run on a model,
// clear errors for bad input, and a machine without any OpenCL device.
#include "graph/graph.h"
#include "host/util/json.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace bluecl::testing {
namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs `bluecl ARGS` with optional environment assignments (sh syntax) in front.
Result cli(const std::string& args, const std::string& env = "") {
  static const std::string dir = temp_dir("bluecl-cli");
  const std::string out = dir + "/out", err = dir + "/err";
  const std::string cmd = env + " " + BLUECL_CLI_PATH + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

std::string q(const std::string& s) {
  return "'" + s + "'";
}

TEST(Cli, HelpAndUnknownCommand) {
  Result r = cli("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* c : {"run", "devices", "tokenize", "logits", "grid", "gen-model"})
    EXPECT_NE(r.out.find(c), std::string::npos) << c;
  EXPECT_EQ(cli("frobnicate").code, 2);
  r = cli("run --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--chunk"), std::string::npos);
  r = cli("run --no-such-option");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option --no-such-option"), std::string::npos) << r.err;
}

// Every test string of both vocabularies, passed as a file's exact bytes, gives llama.cpp's ids.
TEST(Cli, TokenizeMatchesVocabTestFiles) {
  const std::string dir = temp_dir("bluecl-tok");
  for (const char* vocab : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"}) {
    const std::string inp = read_text(data_path(std::string("vocab/") + vocab + ".inp"));
    std::istringstream outs(read_text(data_path(std::string("vocab/") + vocab + ".out")));
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    int n = 0;
    while (pos < inp.size()) {
      size_t end = inp.find(sep, pos);
      if (end == std::string::npos) end = inp.size();
      const std::string text = inp.substr(pos, end - pos);
      pos = end + sep.size();
      std::string expected;
      std::getline(outs, expected);
      const std::string file = dir + "/in.txt";
      std::ofstream(file, std::ios::binary) << text;
      const Result r =
          cli("tokenize -m " + q(data_path(std::string("vocab/") + vocab)) + " --no-bos -f " + file);
      ASSERT_EQ(r.code, 0) << r.err;
      std::string got = r.out;
      if (!got.empty() && got.back() == '\n') got.pop_back();
      // The reference lines put a space before each id.
      while (!expected.empty() && expected.front() == ' ') expected.erase(0, 1);
      EXPECT_EQ(got, expected) << vocab << " input " << n << ": '" << text << "'";
      ++n;
    }
    EXPECT_GT(n, 30) << vocab;
  }
  std::filesystem::remove_all(dir);
}

TEST(Cli, LogitsMatchGolden) {
  const std::string out = temp_dir("bluecl-logits") + "/l.f32";
  for (const char* device : {"cpu", ""}) {
    const Result r = cli(std::string("logits -m ") + q(data_path("golden/tiny-c-bluelm-q4_0.gguf")) +
                         " --tokens " + q(data_path("golden/tiny-c-bluelm-q4_0.tokens.json")) +
                         " --chunk 7 --out " + out + (*device ? std::string(" --device ") + device : ""));
    ASSERT_EQ(r.code, 0) << r.err;
    const Agreement a = compare_logits(
        read_f32(out), read_f32(data_path("golden/tiny-c-bluelm-q4_0.exact.logits.f32")), 2048);
    EXPECT_LE(a.nmse, 1e-6) << device;
    EXPECT_EQ(a.top1, 1.0) << device;
  }
}

TEST(Cli, GridMatchesEveryGoldenCase) {
  const Json doc = parse_json(read_text(data_path("golden/grids.json")));
  for (const Json& c : doc.at("cases").as_array()) {
    const std::string wh =
        std::to_string(c.at("width").as_int()) + " " + std::to_string(c.at("height").as_int());
    for (bool llava : {false, true}) {
      const Result r = cli("grid " + wh + (llava ? " --llava-next" : ""));
      ASSERT_EQ(r.code, 0) << r.err;
      const Json& g = c.at(llava ? "llava_next_grid" : "grid");
      const int64_t m = g.at(size_t{0}).as_int(), n = g.at(size_t{1}).as_int();
      EXPECT_EQ(r.out,
                std::to_string(m) + ":" + std::to_string(n) + " " + std::to_string(196 * (m * n + 1)) + "\n")
          << wh << (llava ? " llava-next" : "");
    }
  }
  EXPECT_EQ(cli("grid 0 10").code, 2);
  EXPECT_EQ(cli("grid abc 10").code, 2);
}

TEST(Cli, RunGeneratesAndReports) {
  const Result r =
      cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p 'The quick brown fox' -n 8 --temp 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(r.out.size(), 1u);
  EXPECT_NE(r.err.find("generated: 8 tokens"), std::string::npos) << r.err;
  // Exact arithmetic gives the same greedy text on the OpenCL device and on the CPU alone.
  const Result d = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) +
                       " -p 'The quick brown fox' -n 8 --temp 0 --exact --placement device");
  const Result c = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) +
                       " -p 'The quick brown fox' -n 8 --temp 0 --exact --device cpu");
  ASSERT_EQ(d.code, 0) << d.err;
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, d.out);
}

TEST(Cli, BadInputIsAClearError) {
  Result r = cli("run -p hi");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("-m MODEL.gguf is required"), std::string::npos) << r.err;
  r = cli("run -m /nonexistent.gguf -p hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  r = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p hi --kv q3");
  EXPECT_EQ(r.code, 2);
  r = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) +
          " -p 'a long prompt that does not fit' --ctx 4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  r = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p hi --device 99");
  EXPECT_EQ(r.code, 1);
  // A device index past the list names it; with no OpenCL platform at all the error says so instead.
  EXPECT_NE(r.err.find(cl_device() ? "no OpenCL device 99" : "no OpenCL device found"), std::string::npos)
      << r.err;
}

// bluecl bench prints a markdown table and valid JSON with every row measured.
TEST(Cli, Bench) {
  const std::string model = q(data_path("golden/tiny-a-q4_0.gguf")),
                    mmproj = q(data_path("golden/tiny-v-q8_0.gguf"));
  const std::string args =
      "bench -m " + model + " --mmproj " + mmproj + " --prompt 16 --chunks 8,16 --decode 4 -r 2 --typing 0.1";
  Result r = cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* row : {"| host", "prefill", "decode", "encode 1 tile", "time to first token", "RSS"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << " in\n" << r.out;
  r = cli(args + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const Json doc = parse_json(r.out);
  EXPECT_GT(doc.at("host_limits").at("read_gbps").as_number(), 0.0);
  const auto& rows = doc.at("results").as_array();
  ASSERT_GE(rows.size(), 6u);
  for (const Json& row : rows) EXPECT_FALSE(row.at("values").as_array().empty());
  // --profile adds where the time goes: every role of the layer, timed per step, decode and prefill.
  r = cli("bench -m " + model + " --prompt 16 --chunks 8 --decode 4 -r 1 --profile");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* row :
       {"### decode", "### prefill of 16 tokens, chunk 8", "op profile: 4 steps", "op profile: 2 steps",
        "| ffn_out | matmul |", "| attn | attention |", "| k_cache_w | kv_write |"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << " in\n" << r.out;
  // More decode tokens than prompt tokens: the decode loop feeds the prompt's tokens again (it once read
  // past the prompt and fed garbage token ids).
  r = cli("bench -m " + model + " --prompt 4 --chunks 4 --decode 12 -r 1 --profile");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("op profile: 12 steps"), std::string::npos) << r.out;
}

// bluecl tune runs on the OpenCL device; without one the test is skipped (the binary exits 77).
TEST(Cli, Tune) {
  BLUECL_REQUIRE_CL();
  const Result r = cli("tune --quick --dry-run", "BLUECL_CACHE_DIR=none");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("matmul/q4_0/gemv"), std::string::npos) << r.out;
}

// With no OpenCL platform at all (an ICD directory with no drivers), everything still runs on the CPU,
// with a notice.
TEST(Cli, NoOpenClDeviceRunsOnCpu) {
  const std::string env = "OCL_ICD_VENDORS=/nonexistent-icd-dir OPENCL_VENDOR_PATH=/nonexistent-icd-dir";
  Result r = cli("devices", env);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("no OpenCL device found"), std::string::npos) << r.out;
  r = cli("run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p 'The quick brown fox' -n 4 --temp 0",
          env);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("running every op on the CPU"), std::string::npos) << r.err;
}

// Every number a command or a BLUECL_* variable takes is checked: out of range or not a number exits 2
// with a message naming the option (or variable) and the value, before anything runs; nothing is cast
// or wrapped into a different value.
TEST(Cli, BadValuesExitTwoNamingTheOption) {
  const std::string model = " -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p hi -n 2";
  struct Case {
    std::string args, env, names;  // `names` must appear in the message
  };
  std::vector<Case> cases = {
      {"run" + model + " --ctx 4294967296", "", "--ctx"},
      {"run" + model + " --ctx -1", "", "--ctx"},
      {"run" + model + " --ctx 0", "", "--ctx"},
      {"run -m x -p hi -n 4294967297", "", "--n-predict"},
      {"run -m x -p hi -n -2", "", "--n-predict"},
      {"run -m x -p hi --chunk 4294967296", "", "--chunk"},
      {"run -m x -p hi --chunk 0", "", "--chunk"},
      {"run -m x -p hi --top-k 4294967296", "", "--top-k"},
      {"run -m x -p hi --top-k -1", "", "--top-k"},
      {"run -m x -p hi --repeat-last-n 4294967296", "", "--repeat-last-n"},
      {"run -m x -p hi --vision-batch 4294967297", "", "--vision-batch"},
      {"run -m x -p hi --vision-batch 0", "", "--vision-batch"},
      {"run -m x -p hi --temp -1", "", "--temp"},
      {"run -m x -p hi --temp nan", "", "--temp"},
      {"run -m x -p hi --top-p 1.5", "", "--top-p"},
      {"run -m x -p hi --min-p -0.1", "", "--min-p"},
      {"run -m x -p hi --repeat-penalty 1e9", "", "--repeat-penalty"},
      {"run -m x -p hi --seed -5", "", "--seed"},
      {"run -m x -p hi --seed 12abc", "", "--seed"},
      {"run -m x -p hi -t 5000", "", "--threads"},
      {"run -m x -p hi -t abc", "", "--threads"},
      {"bench -m x --prompt 0", "", "--prompt"},
      {"bench -m x --decode -1", "", "--decode"},
      {"bench -m x -r 0", "", "--reps"},
      {"bench -m x --typing -1", "", "--typing"},
      {"bench -m x --chunks 8,x", "", "--chunks"},
      {"bench -m x --chunks 0", "", "--chunks"},
      {"bench -m x -t -1", "", "--threads"},
      {"encode --mmproj x --tiles y --n-tiles 0 -o z", "", "--n-tiles"},
      {"encode --mmproj x --image y -o z --batch 65", "", "--batch"},
      {"encode --mmproj x --image y -o z --repeat 0", "", "--repeat"},
      {"grid 100 100 --max-grid 0", "", "--max-grid"},
      {"grid 100 100 --max-tiles 1000", "", "--max-tiles"},
      {"grid 100 100 --alpha 2", "", "--alpha"},
      {"logits -m x --tokens y -o z --chunk 0", "", "--chunk"},
      {"plan -m x --chunk 0", "", "--chunk"},
      {"plan -m x --vision-batch 65", "", "--vision-batch"},
      {"tune --chunk 0", "", "--chunk"},
      {"tune -t 99999", "", "--threads"},
      {"gen-model --preset tiny --hidden 4294967296 -o x.gguf", "", "--hidden"},
      {"gen-model --preset tiny --threads 1000 -o x.gguf", "", "--threads"},
      {"run" + model, "BLUECL_THREADS=abc", "BLUECL_THREADS"},
      {"run" + model, "BLUECL_THREADS=0", "BLUECL_THREADS"},
      {"run" + model, "BLUECL_SPIN_US=-5", "BLUECL_SPIN_US"},
  };
  if (cl_device()) {  // read when an OpenCL backend is made
    cases.push_back({"run" + model, "BLUECL_DEVICE_MEMORY_LIMIT=abc", "BLUECL_DEVICE_MEMORY_LIMIT"});
    cases.push_back({"run" + model, "BLUECL_DEVICE_MEMORY_LIMIT=-1", "BLUECL_DEVICE_MEMORY_LIMIT"});
    cases.push_back({"run" + model, "BLUECL_MAX_ALLOC=1T", "BLUECL_MAX_ALLOC"});
    cases.push_back({"run" + model, "BLUECL_TUNING=maybe", "BLUECL_TUNING"});
  }
  for (const Case& c : cases) {
    const Result r = cli(c.args, c.env);
    EXPECT_EQ(r.code, 2) << c.env << " bluecl " << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << c.env << " bluecl " << c.args << "\n" << r.err;
  }
}

// BLUECL_DEVICE means what --device means: "cpu" is the CPU alone (no warning that nothing matches), and
// an index or name that matches nothing is an error naming the variable, as it is for the flag.
TEST(Cli, DeviceVariableMeansWhatTheFlagMeans) {
  const std::string run = "run -m " + q(data_path("golden/tiny-a-q4_0.gguf")) + " -p hi -n 2 --temp 0";
  Result r = cli(run, "BLUECL_DEVICE=cpu");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("matches"), std::string::npos) << r.err;
  r = cli(run, "BLUECL_DEVICE=99");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("BLUECL_DEVICE 99"), std::string::npos) << r.err;
  const Result flag = cli(run + " --device 99");
  EXPECT_EQ(flag.code, 1) << flag.err;
  EXPECT_NE(flag.err.find("--device 99"), std::string::npos) << flag.err;
}

}  // namespace
}  // namespace bluecl::testing
