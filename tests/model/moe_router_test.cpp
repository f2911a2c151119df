// Expert routing for every DeepSeek variant, against expectations worked out by hand from the
// spec (deepseek-arch.md §2.9, pitfalls 8-11).
#include "model/moe_router.h"

#include <gtest/gtest.h>

#include <cmath>

namespace whale::model {
namespace {

std::vector<int32_t> experts(const std::vector<Route>& r) {
  std::vector<int32_t> e;
  for (const auto& x : r) e.push_back(x.expert);
  return e;
}

float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

// V2-Lite: softmax over all experts, no groups, raw probabilities (no renormalisation), x1.0.
TEST(MoeRouter, V2LiteSoftmaxGreedyRawProbabilities) {
  RouterConfig cfg{ScoringFunc::kSoftmax, 4, 2, 1, 1, false, 1.0f};
  std::vector<float> z = {0.0f, 2.0f, 1.0f, -1.0f};
  auto r = route_token(cfg, z, {});
  ASSERT_EQ(experts(r), (std::vector<int32_t>{1, 2}));
  const double s = std::exp(0.0) + std::exp(2.0) + std::exp(1.0) + std::exp(-1.0);
  EXPECT_NEAR(r[0].weight, std::exp(2.0) / s, 1e-6);
  EXPECT_NEAR(r[1].weight, std::exp(1.0) / s, 1e-6);
}

// V2 (236B): softmax, group-limited by the max of each group, route scale 16 applied to raw
// probabilities.
TEST(MoeRouter, V2GroupLimitedByMaxAndScaled) {
  // 8 experts in 4 groups of 2; keep 2 groups; pick 2.
  // group maxima: g0 = 3.0 (e0), g1 = 2.9 (e3), g2 = 2.95 (e4, e5 = 2.94), g3 = 0.
  // Kept groups: g0 and g2. Best experts inside: e0 (3.0), e4 (2.95); e3 (2.9) is excluded
  // although it beats e5.
  RouterConfig cfg{ScoringFunc::kSoftmax, 8, 2, 4, 2, false, 16.0f};
  std::vector<float> z = {3.0f, 0.0f, 1.0f, 2.9f, 2.95f, 2.94f, 0.0f, 0.0f};
  auto r = route_token(cfg, z, {});
  ASSERT_EQ(experts(r), (std::vector<int32_t>{0, 4}));
  double s = 0;
  for (float v : z) s += std::exp(double(v));
  EXPECT_NEAR(r[0].weight, 16.0 * std::exp(3.0) / s, 1e-5);
  EXPECT_NEAR(r[1].weight, 16.0 * std::exp(2.95) / s, 1e-5);
}

// V3: sigmoid; the bias only chooses; group score = sum of the top-2 biased scores; weights
// are the unbiased sigmoids renormalised over the chosen experts, times 2.5.
TEST(MoeRouter, V3SigmoidBiasTopTwoSumGroupsNormalisedScaled) {
  RouterConfig cfg{ScoringFunc::kSigmoid, 8, 2, 4, 1, true, 2.5f};
  // Unbiased scores: group 0 has one strong expert (e0) and a weak one; group 1 has two medium.
  std::vector<float> z = {3.0f, -3.0f, 1.0f, 1.0f, -2.0f, -2.0f, -2.0f, -2.0f};
  std::vector<float> bias(8, 0.0f);
  // max rule would keep group 0 (sigmoid(3) = 0.953); top-2 sum keeps group 1
  // (2 * sigmoid(1) = 1.462 > 0.953 + 0.047 = 1.0).
  auto r = route_token(cfg, z, bias);
  ASSERT_EQ(experts(r), (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(r[0].weight, 1.25, 1e-6);
  EXPECT_NEAR(r[1].weight, 1.25, 1e-6);

  // A bias can steer selection without changing the weights' source: boost e5 in group 2.
  RouterConfig flat{ScoringFunc::kSigmoid, 8, 2, 1, 1, true, 2.5f};
  std::vector<float> b2(8, 0.0f);
  b2[5] = 10.0f;
  auto r2 = route_token(flat, z, b2);
  ASSERT_EQ(experts(r2), (std::vector<int32_t>{0, 5}));
  const double w0 = sigmoid(3.0f), w5 = sigmoid(-2.0f);
  EXPECT_NEAR(r2[0].weight, 2.5 * w0 / (w0 + w5), 1e-6);
  EXPECT_NEAR(r2[1].weight, 2.5 * w5 / (w0 + w5), 1e-6);
}

// Masked experts are -inf, not 0: with negative biased scores, an expert from an excluded group
// must never be picked over one from a kept group.
TEST(MoeRouter, ExcludedGroupsAreMinusInfinity) {
  RouterConfig cfg{ScoringFunc::kSigmoid, 4, 2, 2, 1, false, 1.0f};
  std::vector<float> z = {0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<float> bias = {-5.0f, -6.0f, -7.0f, -8.0f};  // all biased scores negative
  auto r = route_token(cfg, z, bias);
  EXPECT_EQ(experts(r), (std::vector<int32_t>{0, 1}));
}

// A sigmoid model with a bias but no groups: plain top-k over all experts, biased.
TEST(MoeRouter, SigmoidBiasWithoutGroups) {
  RouterConfig cfg{ScoringFunc::kSigmoid, 6, 3, 1, 1, true, 1.0f};
  std::vector<float> z = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f};
  std::vector<float> bias = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f};
  auto r = route_token(cfg, z, bias);
  EXPECT_EQ(experts(r), (std::vector<int32_t>{0, 1, 5}));
  double sum = sigmoid(0.5f) + sigmoid(0.4f) + sigmoid(0.0f);
  EXPECT_NEAR(r[2].weight, sigmoid(0.0f) / sum, 1e-6);
}

}  // namespace
}  // namespace whale::model
