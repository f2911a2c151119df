// End-to-end tests of `whale logits`, `whale run`, `whale demo-model` and `whale synth` against
// the fixture goldens (DeepSeek's reference code, llama.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "common/run_whale.h"

namespace whale::testing {
namespace {

nlohmann::json golden(const std::string& model) {
  std::ifstream in(fixture("models/" + model + "/golden.json"));
  return nlohmann::json::parse(in);
}

std::string join(const std::vector<int>& ids, char sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? std::string(1, sep) : "") + std::to_string(ids[i]);
  return s;
}

class ModelCli : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelCli, LogitsJsonMatchesGolden) {
  const std::string m = GetParam();
  WHALE_REQUIRE_FIXTURE("models/" + m + "/model-f16.gguf");
  const auto g = golden(m);
  const auto prompt = g["prompt_ids"].get<std::vector<int>>();
  auto r = run_whale({"logits", "-m", fixture("models/" + m + "/model-f16.gguf").string(), "--ids", join(prompt, ','), "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& rows = j.at("logits");
  ASSERT_EQ(rows.size(), prompt.size());
  double worst = 0;
  for (size_t p = 0; p < rows.size(); ++p) {
    ASSERT_EQ(rows[p].size(), g["logits"][p].size());
    for (size_t v = 0; v < rows[p].size(); ++v)
      worst = std::max(worst, std::fabs(rows[p][v].get<double>() - g["logits"][p][v].get<double>()));
  }
  EXPECT_LE(worst, 2e-3);
}

TEST_P(ModelCli, GreedyRunPrintsGoldenContinuation) {
  const std::string m = GetParam();
  WHALE_REQUIRE_FIXTURE("models/" + m + "/model-f16.gguf");
  const auto g = golden(m);
  const auto prompt = g["prompt_ids"].get<std::vector<int>>();
  const auto want = g["greedy_continuation"].get<std::vector<int>>();
  auto r = run_whale({"run", "-m", fixture("models/" + m + "/model-f16.gguf").string(), "--ids", join(prompt, ','), "-n",
                      std::to_string(want.size()), "--temp", "0", "--print-ids"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, join(want, ' ') + "\n");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelCli, ::testing::Values("tiny-deepseek-v3", "tiny-llama", "tiny-qwen2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(ModelCli, HfFolderGreedyRunMatchesGolden) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/config.json");
  const auto g = golden("tiny-deepseek-v3");
  const auto want = g["greedy_continuation"].get<std::vector<int>>();
  auto r = run_whale({"run", "-m", fixture("models/tiny-deepseek-v3").string(), "--ids",
                      join(g["prompt_ids"].get<std::vector<int>>(), ','), "-n", std::to_string(want.size()), "--temp",
                      "0", "--print-ids"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, join(want, ' ') + "\n");
}

// The demo model: written, described by info, answers a prompt through the chat template, and
// greedy runs are reproducible.
TEST(DemoModel, WritesLoadsAndAnswers) {
  const auto dir = scratch_dir("whale_demo_cli");
  const auto path = (dir / "demo.gguf").string();
  auto w = run_whale({"demo-model", "-o", path});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto info = run_whale({"info", path, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["architecture"], "deepseek2");
  EXPECT_GE(j["metadata"]["deepseek2.context_length"].get<int>(), 8192);
  auto a = run_whale({"run", "-m", path, "-p", "Hello!", "-n", "12", "--temp", "0"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = run_whale({"run", "-m", path, "-p", "Hello!", "-n", "12", "--temp", "0"});
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.err.find("tok/s"), std::string::npos) << a.err;
  // The interactive chat reads turns from stdin and understands /reset and /exit.
  auto chat = run_whale({"run", "-m", path, "-n", "4", "--temp", "0"}, "Hi\n/reset\nHello again\n/exit\n");
  EXPECT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_NE(chat.err.find("history cleared"), std::string::npos) << chat.err;
  std::filesystem::remove_all(dir);
}

TEST(Synth, TinyShapesLoadAndRun) {
  const auto dir = scratch_dir("whale_synth_cli");
  for (const char* mix : {"q4_k_m", "q8_0", "f16"}) {
    const auto path = (dir / (std::string("tiny-") + mix + ".gguf")).string();
    auto w = run_whale({"synth", "--shape", "tiny-v3", "--mix", mix, "-o", path});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    auto r = run_whale({"run", "-m", path, "--ids", "0,5,9", "-n", "4", "--temp", "0", "--print-ids"});
    ASSERT_EQ(r.exit_code, 0) << mix << ": " << r.err;
    int count = 0;
    for (char c : r.out) count += c == ' ';
    EXPECT_EQ(count, 3) << r.out;
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelCli, BadInputsExitOneWithMessage) {
  auto missing = run_whale({"logits", "-m", "/nonexistent/model.gguf", "--ids", "1,2"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos) << missing.err;
  WHALE_REQUIRE_FIXTURE("models/tiny-llama/model-f16.gguf");
  auto bad_id = run_whale({"logits", "-m", fixture("models/tiny-llama/model-f16.gguf").string(), "--ids", "1,99999"});
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_NE(bad_id.err.find("99999"), std::string::npos) << bad_id.err;
  auto bad_list = run_whale({"logits", "-m", fixture("models/tiny-llama/model-f16.gguf").string(), "--ids", "1,x"});
  EXPECT_EQ(bad_list.exit_code, 1);
}

}  // namespace
}  // namespace whale::testing
