// DeepSeekMoE expert selection for one token (spec deepseek-arch.md §2.9): softmax or sigmoid
// scores, an optional selection bias used only to choose, group-limited selection (max-of-group
// without bias, top-2-sum with bias), top-k, optional renormalisation, route scale.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/hparams.h"

namespace whale::model {

struct RouterConfig {
  ScoringFunc scoring = ScoringFunc::kSoftmax;
  int n_experts = 0;
  int top_k = 0;
  int n_groups = 1;       // <= 1: no group step
  int n_groups_used = 1;
  bool norm_topk = false;
  float route_scale = 1.0f;
};

struct Route {
  int32_t expert = 0;
  float weight = 0;
};

// Chooses top_k experts from the router logits of one token. `bias` (size n_experts) is the
// selection bias or empty. Routes come back sorted by expert id (the order the reference
// accumulates in). Ties pick the lower expert id.
std::vector<Route> route_token(const RouterConfig& cfg, std::span<const float> logits,
                               std::span<const float> bias);

}  // namespace whale::model
