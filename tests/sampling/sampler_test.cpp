// The sampler chain against its definitions: argmax, the OpenAI penalty formula, the candidate
// sets of top-k / top-p / min-p on hand-made distributions, and sample frequencies checked
// against the exact probabilities with 5-sigma bounds.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <random>
#include <map>

#include "sampling/constraint.h"
#include "util/error.h"

namespace whale::sampling {
namespace {

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

// Draws n tokens (each from the same logits) and returns the count of each id.
std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int n,
                           TokenConstraint* c = nullptr) {
  std::vector<int> h(logits.size());
  for (int i = 0; i < n; ++i) ++h[s.sample(logits, c).token];
  return h;
}

// Expects the histogram to match `probs` (normalised here) within 5 standard deviations, and
// ids with probability 0 never to appear.
void expect_distribution(const std::vector<int>& h, std::vector<double> probs) {
  double total = 0;
  for (double p : probs) total += p;
  int n = 0;
  for (int c : h) n += c;
  for (size_t i = 0; i < h.size(); ++i) {
    const double p = probs[i] / total;
    if (p == 0) {
      EXPECT_EQ(h[i], 0) << "id " << i << " should never be drawn";
      continue;
    }
    const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(h[i], mean, 5 * sd + 1) << "id " << i;
  }
}

SamplingParams with_seed(uint64_t seed) {
  SamplingParams p;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyIsArgmaxWithTiesToTheLowestId) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 6);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.9f, 0.0f, 1.0f}, nullptr).token, 1);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f, 0.0f, 3.0f}, nullptr).token, 1);
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(s.sample(std::vector<float>{ninf, ninf, -5.0f, ninf, -5.0f, ninf}, nullptr).token, 2);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> l = {0.5f, 0.1f, 0.3f, 0.2f, 0.0f, 0.4f, 0.25f, 0.15f};
  auto run = [&](uint64_t seed) {
    Sampler s(with_seed(seed), 8);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(l, nullptr).token);
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, PlainSamplingFollowsTheSoftmax) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  Sampler s(with_seed(1), 4);
  expect_distribution(histogram(s, logits_of(probs), 20000), probs);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  for (double t : {0.5, 2.0}) {
    SamplingParams p = with_seed(2);
    p.temperature = static_cast<float>(t);
    Sampler s(p, 4);
    std::vector<double> want;
    for (double q : probs) want.push_back(std::pow(q, 1.0 / t));  // softmax(l/T) ∝ p^(1/T)
    expect_distribution(histogram(s, logits_of(probs), 20000), want);
  }
}

TEST(Sampler, TopKKeepsTheKBest) {
  const std::vector<double> probs = {0.05, 0.3, 0.1, 0.25, 0.2, 0.1};
  SamplingParams p = with_seed(3);
  p.top_k = 3;
  Sampler s(p, 6);
  expect_distribution(histogram(s, logits_of(probs), 20000), {0, 0.3, 0, 0.25, 0.2, 0});
  p.top_k = 1;
  Sampler one(p, 6);
  expect_distribution(histogram(one, logits_of(probs), 1000), {0, 1, 0, 0, 0, 0});
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  const std::vector<double> probs = {0.15, 0.5, 0.05, 0.3};  // sorted: 1, 3, 0, 2
  const std::vector<std::pair<float, std::vector<double>>> cases = {
      {0.4f, {0, 1, 0, 0}},          // 0.5 >= 0.4
      {0.75f, {0, 0.5, 0, 0.3}},     // 0.5 < 0.75 <= 0.8
      {0.9f, {0.15, 0.5, 0, 0.3}},   // 0.8 < 0.9 <= 0.95
      {0.99f, {0.15, 0.5, 0.05, 0.3}},
  };
  for (const auto& [top_p, want] : cases) {
    SamplingParams p = with_seed(4);
    p.top_p = top_p;
    Sampler s(p, 4);
    SCOPED_TRACE(top_p);
    expect_distribution(histogram(s, logits_of(probs), 20000), want);
  }
}

TEST(Sampler, TopPOverALargeVocabularySortsPastTheFirstBlock) {
  // 1000 equal tokens: top_p 0.5 must keep exactly 500 of them (ties to the lowest ids).
  SamplingParams p = with_seed(5);
  p.top_p = 0.5f;
  Sampler s(p, 1000);
  std::vector<float> l(1000, 0.0f);
  auto h = histogram(s, l, 5000);
  for (int i = 501; i < 1000; ++i) {
    EXPECT_EQ(h[i], 0) << i;  // 500 reach 0.5 up to rounding; never more than 501
  }
  int low = 0;
  for (int i = 0; i < 500; ++i) low += h[i] > 0;
  EXPECT_GT(low, 450);  // 5000 draws over 500 ids: each missed with probability e^-10
}

TEST(Sampler, TopPOnARandomLargeVocabularyStaysInTheNucleus) {
  // Reference nucleus by a full sort; every draw must fall inside it, and the most likely
  // members must all show up.
  std::mt19937 g(77);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> l(5000);
  for (auto& x : l) x = nd(g);
  std::vector<int> order(l.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
  double total = 0;
  for (float x : l) total += std::exp(static_cast<double>(x));
  std::vector<bool> in(l.size());
  double cum = 0;
  size_t size = 0;
  for (int id : order) {
    in[id] = true;
    ++size;
    cum += std::exp(static_cast<double>(l[id])) / total;
    if (cum >= 0.7) break;
  }
  SamplingParams p = with_seed(12);
  p.top_p = 0.7f;
  Sampler s(p, 5000);
  auto h = histogram(s, l, 20000);
  for (size_t i = 0; i < l.size(); ++i) {
    if (!in[i]) {
      EXPECT_EQ(h[i], 0) << "token " << i << " is outside the nucleus";
    }
  }
  for (size_t k = 0; k < 10; ++k) EXPECT_GT(h[order[k]], 0);
  EXPECT_GT(size, 100u) << "the test needs a nucleus the halving search must cut into";
}

TEST(Sampler, MinPKeepsTokensAboveAFractionOfTheBest) {
  const std::vector<double> probs = {0.05, 0.5, 0.15, 0.3};
  SamplingParams p = with_seed(6);
  p.min_p = 0.25f;  // floor 0.125
  Sampler s(p, 4);
  expect_distribution(histogram(s, logits_of(probs), 20000), {0, 0.5, 0.15, 0.3});
  p.min_p = 0.5f;  // floor 0.25
  Sampler s2(p, 4);
  expect_distribution(histogram(s2, logits_of(probs), 20000), {0, 0.5, 0, 0.3});
}

TEST(Sampler, FiltersComposeInOrder) {
  // top-k 3 → {1, 3, 2} renormalised (0.5, 0.3, 0.15)/0.95; top-p 0.8 → 0.526 + 0.316 ≥ 0.8.
  const std::vector<double> probs = {0.05, 0.5, 0.15, 0.3};
  SamplingParams p = with_seed(7);
  p.top_k = 3;
  p.top_p = 0.8f;
  Sampler s(p, 4);
  expect_distribution(histogram(s, logits_of(probs), 20000), {0, 0.5, 0, 0.3});
}

// The OpenAI rule: mu[j] - c[j] * frequency - (c[j] > 0) * presence, replayed independently.
std::vector<int32_t> replay_openai(std::vector<float> base, float freq, float pres, int n) {
  std::vector<int> count(base.size());
  std::vector<int32_t> out;
  for (int step = 0; step < n; ++step) {
    int32_t best = -1;
    float best_l = -1e30f;
    for (size_t j = 0; j < base.size(); ++j) {
      const float l = base[j] - count[j] * freq - (count[j] > 0 ? pres : 0.0f);
      if (l > best_l) best_l = l, best = static_cast<int32_t>(j);
    }
    out.push_back(best);
    ++count[best];
  }
  return out;
}

TEST(Sampler, FrequencyAndPresencePenaltiesFollowOpenAI) {
  // Values chosen so no two penalised logits tie (a tie would test rounding, not the rule).
  const std::vector<float> base = {1.0f, 0.4517f, 0.2093f, -0.3071f};
  for (auto [freq, pres] : std::vector<std::pair<float, float>>{
           {0.3f, 0.0f}, {0.0f, 0.6f}, {0.25f, 0.1f}, {-0.2f, 0.0f}}) {
    SamplingParams p;
    p.temperature = 0;
    p.frequency_penalty = freq;
    p.presence_penalty = pres;
    Sampler s(p, 4);
    std::vector<int32_t> got;
    for (int i = 0; i < 12; ++i) got.push_back(s.sample(base, nullptr).token);
    EXPECT_EQ(got, replay_openai(base, freq, pres, 12)) << freq << " " << pres;
  }
  // Hand-checked: presence 0.6 → 0 (1.0), 1 (0.4 < 0.4517), then 0 for good (0.4 > -0.148).
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.6f;
  Sampler s(p, 4);
  std::vector<int32_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(s.sample(base, nullptr).token);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 0, 0, 0}));
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 1.5f;
  {
    Sampler s(p, 3);
    s.set_prompt(std::vector<int32_t>{0});
    // 2.0 / 1.5 = 1.33 < 1.5
    EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f}, nullptr).token, 1);
  }
  {
    Sampler s(p, 3);
    s.set_prompt(std::vector<int32_t>{0});
    // -1.0 * 1.5 = -1.5 < -1.2
    EXPECT_EQ(s.sample(std::vector<float>{-1.0f, -1.2f, -9.0f}, nullptr).token, 1);
  }
  {
    Sampler s(p, 3);  // generated tokens count too: 2.0 → 1.33 after the first pick
    EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f}, nullptr).token, 0);
    EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f}, nullptr).token, 1);
  }
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
  SamplingParams p = with_seed(8);
  p.top_logprobs = 20;
  p.temperature = 0.7f;
  p.frequency_penalty = 2.0f;  // must not change the reported values
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  std::vector<float> l = logits_of(probs);
  for (auto& x : l) x += 3.0f;  // a shift changes nothing
  Sampler s(p, 4);
  for (int i = 0; i < 10; ++i) {
    const Sample smp = s.sample(l, nullptr);
    ASSERT_EQ(smp.top.size(), 4u);  // fewer than asked: the vocab is smaller
    double sum = 0;
    for (size_t k = 0; k < smp.top.size(); ++k) {
      sum += std::exp(smp.top[k].logprob);
      EXPECT_EQ(smp.top[k].token, 3 - static_cast<int>(k));  // best first
      EXPECT_NEAR(smp.top[k].logprob, std::log(probs[3 - k]), 1e-5);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_NEAR(smp.logprob, std::log(probs[smp.token]), 1e-5);
  }
  SamplingParams q = with_seed(8);
  q.top_logprobs = 2;
  Sampler two(q, 4);
  const Sample t = two.sample(std::vector<float>{1.0f, 5.0f, 5.0f, 0.0f}, nullptr);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].token, 1);  // tie: lowest id first
  EXPECT_EQ(t.top[1].token, 2);
  SamplingParams none;
  Sampler no(none, 4);
  EXPECT_TRUE(no.sample(l, nullptr).top.empty());
}

class OddOnly : public TokenConstraint {
 public:
  bool allows(int32_t t) override { ++asked; return t % 2 == 1; }
  void mask(std::span<float> l) override {
    ++masked;
    for (size_t i = 0; i < l.size(); i += 2) l[i] = -std::numeric_limits<float>::infinity();
  }
  void accept(int32_t) override {}
  bool complete() const override { return false; }
  int asked = 0, masked = 0;
};

TEST(Sampler, ConstraintIsSampleThenVerify) {
  OddOnly c;
  SamplingParams g;
  g.temperature = 0;
  Sampler greedy(g, 6);
  EXPECT_EQ(greedy.sample(std::vector<float>{9, 1, 8, 3, 7, 2}, &c).token, 3);
  EXPECT_EQ(c.masked, 1);
  EXPECT_EQ(greedy.sample(std::vector<float>{9, 10, 8, 3, 7, 2}, &c).token, 1);
  EXPECT_EQ(c.masked, 1) << "an allowed pick needs no mask";
  // Sampling: exactly the distribution restricted to odd ids.
  const std::vector<double> probs = {0.3, 0.1, 0.2, 0.15, 0.05, 0.2};
  Sampler s(with_seed(9), 6);
  expect_distribution(histogram(s, logits_of(probs), 20000, &c), {0, 0.1, 0, 0.15, 0, 0.2});
}

TEST(Sampler, RejectsBadParameters) {
  auto bad = [](auto edit) {
    SamplingParams p;
    edit(p);
    return p;
  };
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.temperature = -0.1f; }), 4), Error);
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.top_p = 0; }), 4), Error);
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.top_p = 1.01f; }), 4), Error);
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.top_k = -1; }), 4), Error);
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.top_logprobs = 21; }), 4), Error);
  EXPECT_THROW(Sampler(bad([](SamplingParams& p) { p.repetition_penalty = 0; }), 4), Error);
  Sampler ok(SamplingParams{}, 4);
  EXPECT_THROW(ok.sample(std::vector<float>{1, 2, 3}, nullptr), Error);  // wrong row size
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(ok.sample(std::vector<float>{ninf, ninf, ninf, ninf}, nullptr), Error);
}

}  // namespace
}  // namespace whale::sampling
