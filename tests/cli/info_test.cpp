// End-to-end tests of `whale info`: the built binary on every fixture GGUF and the HF folder
// (architecture and tensor counts from the spec's tensor lists), and on truncated / corrupted
// temp copies, where it must exit 1 with a message on stderr and never die from a signal.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/run_whale.h"

namespace {

namespace fs = std::filesystem;

using whale::testing::RunResult;
using whale::testing::run_whale;
using whale::testing::slurp;

fs::path temp_dir() { return whale::testing::scratch_dir("whale_info_test"); }

struct Expected {
  const char* path;
  const char* arch;
  size_t tensors;
};

// Counts from deepseek-arch.md §3.3/§3.8 tensor lists and quants/README.md (see gguf_test).
const Expected kFixtures[] = {
    {"models/tiny-deepseek-v3/model-f16.gguf", "deepseek2", 55},
    {"models/tiny-llama/model-f16.gguf", "llama", 30},
    {"models/tiny-qwen2/model-f16.gguf", "qwen2", 39},
    {"quants/conformance.gguf", "whale-quant-conformance", 29},
    {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-coder.gguf", "llama", 0},
    {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf", "llama", 0},
    {"tokenizer/llama.cpp-vocab/ggml-vocab-gpt-2.gguf", "gpt2", 0},
    {"tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", "llama", 0},
};

TEST(InfoCli, EveryFixtureGgufAsJson) {
  size_t seen = 0;
  for (const auto& e : kFixtures) {
    const fs::path p = whale::testing::fixture(e.path);
    if (!fs::exists(p)) continue;
    ++seen;
    SCOPED_TRACE(e.path);
    RunResult r = run_whale({"info", p.string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["architecture"], e.arch);
    EXPECT_EQ(j["tensor_count"], e.tensors);
    EXPECT_EQ(j["tensors"].size(), e.tensors);
    EXPECT_TRUE(j["metadata"].is_object());
    EXPECT_EQ(j["metadata"]["general.architecture"], e.arch);
    EXPECT_TRUE(j.contains("parameter_count"));
    // Long arrays are summarised, never listed.
    if (j["metadata"].contains("tokenizer.ggml.tokens")) {
      EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["type"], "array");
      EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["elem_type"], "STRING");
    }
    // The plain text form works as well.
    RunResult t = run_whale({"info", p.string()});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find(e.arch), std::string::npos);
  }
  if (seen == 0) GTEST_SKIP() << "no fixtures under " << whale::testing::fixtures_dir();
}

TEST(InfoCli, TinyDeepseekDetails) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model-f16.gguf");
  RunResult r = run_whale(
      {"info", "--json", whale::testing::fixture("models/tiny-deepseek-v3/model-f16.gguf").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // Latent cache: kv_lora_rank 512 + rope 64 = 576 values per layer, 3 layers (README/config).
  EXPECT_EQ(j["kv_cache"]["values_per_token_per_layer"], 576);
  EXPECT_EQ(j["kv_cache"]["values_per_token"], 576 * 3);
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 512);
  EXPECT_EQ(j["tokenizer"]["bos_token_id"], 1);
  const auto& t0 = j["tensors"][0];
  EXPECT_EQ(t0["name"], "token_embd.weight");
  EXPECT_EQ(t0["type"], "F16");
  EXPECT_EQ(t0["shape"], nlohmann::json::array({256, 512}));
  EXPECT_EQ(t0["offset"], 0);
}

TEST(InfoCli, HfCheckpointFolder) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model.safetensors");
  RunResult r =
      run_whale({"info", "--json", whale::testing::fixture("models/tiny-deepseek-v3").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "hf-checkpoint");
  EXPECT_EQ(j["architecture"], "deepseek2");
  EXPECT_EQ(j["tensor_count"], 139);
  EXPECT_EQ(j["kv_cache"]["values_per_token_per_layer"], 576);
  // A single safetensors file opens on its own too.
  RunResult f = run_whale(
      {"info", whale::testing::fixture("models/tiny-deepseek-v3/model.safetensors").string()});
  EXPECT_EQ(f.exit_code, 0) << f.err;
}

void expect_clean_failure(const std::vector<std::string>& args, const std::string& what) {
  RunResult r = run_whale(args);
  EXPECT_EQ(r.signal, 0) << what << " killed by signal " << r.signal;
  EXPECT_EQ(r.exit_code, 1) << what << "\nstderr: " << r.err;
  EXPECT_FALSE(r.err.empty()) << what;
}

TEST(InfoCli, TruncatedAndCorruptedCopiesFailCleanly) {
  WHALE_REQUIRE_FIXTURE("models/tiny-llama/model-f16.gguf");
  const std::string bytes = slurp(whale::testing::fixture("models/tiny-llama/model-f16.gguf"));
  const fs::path dir = temp_dir();
  for (size_t n : {size_t{0}, size_t{3}, size_t{10}, size_t{23}, size_t{24}, size_t{100},
                   size_t{5000}, size_t{13600}, size_t{13700}, bytes.size() / 2,
                   bytes.size() - 1}) {
    const fs::path p = dir / ("cut-" + std::to_string(n) + ".gguf");
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(n));
    expect_clean_failure({"info", p.string()}, "truncated at " + std::to_string(n));
    expect_clean_failure({"info", "--json", p.string()}, "truncated at " + std::to_string(n));
  }
  struct Patch {
    const char* what;
    size_t offset;
    std::vector<uint8_t> data;
  };
  const Patch patches[] = {
      {"bad magic", 0, {'X'}},
      {"version 7", 4, {7, 0, 0, 0}},
      {"big-endian version", 4, {0, 0, 0, 3}},
      {"huge tensor count", 8, {0, 0, 0, 0, 0, 0, 0, 0x40}},
      {"huge key length", 24, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0}},
      {"bad value type", 24 + 8 + 20, {77, 0, 0, 0}},  // "general.architecture" is 20 bytes
  };
  for (const auto& pt : patches) {
    std::string c = bytes;
    std::memcpy(c.data() + pt.offset, pt.data.data(), pt.data.size());
    const fs::path p = dir / "patched.gguf";
    std::ofstream(p, std::ios::binary).write(c.data(), static_cast<std::streamsize>(c.size()));
    expect_clean_failure({"info", "--json", p.string()}, pt.what);
  }
  // A safetensors file cut short, an empty folder, a missing path, a non-model file.
  if (fs::exists(whale::testing::fixture("models/tiny-deepseek-v3/model.safetensors"))) {
    const std::string st =
        slurp(whale::testing::fixture("models/tiny-deepseek-v3/model.safetensors"));
    const fs::path p = dir / "cut.safetensors";
    std::ofstream(p, std::ios::binary).write(st.data(), static_cast<std::streamsize>(st.size() - 1));
    expect_clean_failure({"info", p.string()}, "truncated safetensors");
  }
  fs::create_directories(dir / "empty");
  expect_clean_failure({"info", (dir / "empty").string()}, "empty folder");
  expect_clean_failure({"info", (dir / "missing.gguf").string()}, "missing file");
  std::ofstream(dir / "notes.txt") << "hello";
  expect_clean_failure({"info", (dir / "notes.txt").string()}, "text file");
}

}  // namespace
