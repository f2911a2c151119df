// The fixture models against goldens from implementations nobody here wrote: DeepSeek's own
// reference code (tiny-deepseek-v3) and llama.cpp (tiny-llama, tiny-qwen2).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "model/model.h"

namespace whale::model {
namespace {

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> greedy;
};

Golden read_golden(const std::filesystem::path& p) {
  std::ifstream in(p);
  auto j = nlohmann::json::parse(in);
  Golden g;
  g.prompt = j["prompt_ids"].get<std::vector<int32_t>>();
  g.logits = j["logits"].get<std::vector<std::vector<float>>>();
  g.greedy = j["greedy_continuation"].get<std::vector<int32_t>>();
  return g;
}

// A sequence with its own blocks in a pool.
struct Seq {
  std::vector<int32_t> blocks;
  int32_t n_past = 0;
};

void ensure_blocks(KvPool& kv, Seq& s, int32_t n_ctx) {
  while (static_cast<int32_t>(s.blocks.size()) * KvPool::kBlockTokens < n_ctx) {
    int32_t b = kv.allocate();
    ASSERT_GE(b, 0) << "KV pool exhausted";
    s.blocks.push_back(b);
  }
}

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

struct Case {
  std::string model_path;  // relative to fixtures
  std::string golden;
  int threads;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.model_path;
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n + "_t" + std::to_string(info.param.threads);
}

class FixtureLogits : public ::testing::TestWithParam<Case> {};

// Prefill in one call: every position's logits within 2e-3 of the golden; then greedy
// decoding one token at a time reproduces the golden continuation exactly.
TEST_P(FixtureLogits, MatchesGoldenAndGreedyContinuation) {
  const Case& c = GetParam();
  WHALE_REQUIRE_FIXTURE(c.model_path);
  const Golden g = read_golden(testing::fixture(c.golden));
  ThreadPool pool(c.threads);
  auto model = load_model(testing::fixture(c.model_path), pool);
  const int64_t V = model->info().vocab_size;
  ASSERT_EQ(V, static_cast<int64_t>(g.logits[0].size()));
  KvPool kv(model->info().kv_layout, KvType::F32, 4);
  Seq s;
  ensure_blocks(kv, s, static_cast<int32_t>(g.prompt.size()));
  std::vector<float> logits;
  SeqStep step{g.prompt, 0, s.blocks, true};
  model->forward({&step, 1}, kv, logits);
  ASSERT_EQ(logits.size(), g.prompt.size() * V);
  double worst = 0;
  for (size_t p = 0; p < g.prompt.size(); ++p)
    for (int64_t v = 0; v < V; ++v) worst = std::max(worst, double(std::fabs(logits[p * V + v] - g.logits[p][v])));
  EXPECT_LE(worst, 2e-3) << "max |logit - golden| over all positions";
  s.n_past = static_cast<int32_t>(g.prompt.size());

  std::vector<int32_t> got;
  int32_t next = argmax(logits.data() + (g.prompt.size() - 1) * V, V);
  for (size_t i = 0; i < g.greedy.size(); ++i) {
    got.push_back(next);
    if (i + 1 == g.greedy.size()) break;
    ensure_blocks(kv, s, s.n_past + 1);
    SeqStep d{{&got.back(), 1}, s.n_past, s.blocks, false};
    model->forward({&d, 1}, kv, logits);
    ++s.n_past;
    next = argmax(logits.data(), V);
  }
  EXPECT_EQ(got, g.greedy);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureLogits,
    ::testing::Values(Case{"models/tiny-deepseek-v3/model-f16.gguf", "models/tiny-deepseek-v3/golden.json", 1},
                      Case{"models/tiny-deepseek-v3/model-f16.gguf", "models/tiny-deepseek-v3/golden.json", 2},
                      Case{"models/tiny-deepseek-v3/model-f16.gguf", "models/tiny-deepseek-v3/golden.json", 3},
                      Case{"models/tiny-deepseek-v3/model-f16.gguf", "models/tiny-deepseek-v3/golden.json", 4},
                      Case{"models/tiny-deepseek-v3", "models/tiny-deepseek-v3/golden.json", 2},
                      Case{"models/tiny-llama/model-f16.gguf", "models/tiny-llama/golden.json", 1},
                      Case{"models/tiny-llama/model-f16.gguf", "models/tiny-llama/golden.json", 4},
                      Case{"models/tiny-qwen2/model-f16.gguf", "models/tiny-qwen2/golden.json", 1},
                      Case{"models/tiny-qwen2/model-f16.gguf", "models/tiny-qwen2/golden.json", 3}),
    case_name);

class PrefillDecodeConsistency : public ::testing::TestWithParam<std::string> {};

// With the default f16 KV cache: one prefill call and token-by-token decoding agree to 1e-4;
// four different sequences decoded in one batched call agree with each decoded alone.
TEST_P(PrefillDecodeConsistency, PrefillEqualsStepwiseAndBatchEqualsAlone) {
  const std::string rel = GetParam();
  WHALE_REQUIRE_FIXTURE(rel);
  ThreadPool pool(2);
  auto model = load_model(testing::fixture(rel), pool);
  const int64_t V = model->info().vocab_size;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 70; ++i) prompt.push_back(static_cast<int32_t>((i * 37 + 11) % V));  // crosses a block

  KvPool kv(model->info().kv_layout, KvType::F16, 64);
  Seq a;
  ensure_blocks(kv, a, 70);
  std::vector<float> all;
  SeqStep st{prompt, 0, a.blocks, true};
  model->forward({&st, 1}, kv, all);

  Seq b;
  ensure_blocks(kv, b, 70);
  std::vector<float> one;
  double worst = 0;
  for (int i = 0; i < 70; ++i) {
    SeqStep d{{&prompt[i], 1}, i, b.blocks, false};
    model->forward({&d, 1}, kv, one);
    for (int64_t v = 0; v < V; ++v) worst = std::max(worst, double(std::fabs(one[v] - all[i * V + v])));
  }
  EXPECT_LE(worst, 1e-4);

  // Four sequences of different lengths, then one batched decode step vs each alone.
  std::vector<Seq> seqs(4);
  std::vector<std::vector<int32_t>> prompts(4);
  for (int s = 0; s < 4; ++s) {
    for (int i = 0; i < 5 + 17 * s; ++i) prompts[s].push_back(static_cast<int32_t>((i * (s + 3) + s) % V));
    ensure_blocks(kv, seqs[s], static_cast<int32_t>(prompts[s].size()) + 1);
    SeqStep p{prompts[s], 0, seqs[s].blocks, false};
    std::vector<float> tmp;
    model->forward({&p, 1}, kv, tmp);
    seqs[s].n_past = static_cast<int32_t>(prompts[s].size());
  }
  std::vector<int32_t> next = {3, 7, 11, 13};
  std::vector<SeqStep> batch;
  for (int s = 0; s < 4; ++s) batch.push_back({{&next[s], 1}, seqs[s].n_past, seqs[s].blocks, false});
  std::vector<float> batched;
  model->forward(batch, kv, batched);
  ASSERT_EQ(batched.size(), 4u * V);
  for (int s = 0; s < 4; ++s) {
    std::vector<float> alone;
    model->forward({&batch[s], 1}, kv, alone);  // rewrites the same KV slot with the same values
    double w = 0;
    for (int64_t v = 0; v < V; ++v) w = std::max(w, double(std::fabs(alone[v] - batched[s * V + v])));
    EXPECT_LE(w, 1e-4) << "sequence " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefillDecodeConsistency,
                         ::testing::Values("models/tiny-deepseek-v3/model-f16.gguf", "models/tiny-llama/model-f16.gguf",
                                           "models/tiny-qwen2/model-f16.gguf"),
                         [](const auto& info) { return std::string(info.index == 0 ? "deepseek" : info.index == 1 ? "llama" : "qwen2"); });

}  // namespace
}  // namespace whale::model
