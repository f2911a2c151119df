#include "model/moe_router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace whale::model {

std::vector<Route> route_token(const RouterConfig& cfg, std::span<const float> logits,
                               std::span<const float> bias) {
  const int E = cfg.n_experts;
  if (static_cast<int>(logits.size()) != E) fail("router: ", logits.size(), " logits for ", E, " experts");
  std::vector<float> score(E);
  if (cfg.scoring == ScoringFunc::kSoftmax) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    float sum = 0;
    for (int e = 0; e < E; ++e) sum += score[e] = std::exp(logits[e] - mx);
    for (int e = 0; e < E; ++e) score[e] /= sum;
  } else {
    for (int e = 0; e < E; ++e) score[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
  std::vector<float> sel(score);
  if (!bias.empty())
    for (int e = 0; e < E; ++e) sel[e] += bias[e];

  // Larger selection score first; the lower id wins a tie.
  auto better = [&](int a, int b) { return sel[a] > sel[b] || (sel[a] == sel[b] && a < b); };

  if (cfg.n_groups > 1) {
    const int G = cfg.n_groups, per = E / G;
    std::vector<float> gscore(G);
    for (int g = 0; g < G; ++g) {
      std::vector<float> v(sel.begin() + g * per, sel.begin() + (g + 1) * per);
      std::sort(v.begin(), v.end(), std::greater<float>());
      gscore[g] = bias.empty() ? v[0] : v[0] + (per > 1 ? v[1] : 0.0f);
    }
    std::vector<int> gidx(G);
    std::iota(gidx.begin(), gidx.end(), 0);
    std::stable_sort(gidx.begin(), gidx.end(), [&](int a, int b) { return gscore[a] > gscore[b]; });
    std::vector<bool> keep(G, false);
    for (int i = 0; i < cfg.n_groups_used; ++i) keep[gidx[i]] = true;
    for (int e = 0; e < E; ++e)
      if (!keep[e / per]) sel[e] = -std::numeric_limits<float>::infinity();
  }

  std::vector<int> idx(E);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + cfg.top_k, idx.end(), better);
  idx.resize(cfg.top_k);
  std::sort(idx.begin(), idx.end());

  std::vector<Route> routes(cfg.top_k);
  float sum = 0;
  for (int k = 0; k < cfg.top_k; ++k) {
    routes[k].expert = idx[k];
    routes[k].weight = score[idx[k]];  // unbiased score: the bias only steers selection
    sum += routes[k].weight;
  }
  for (auto& r : routes) {
    if (cfg.norm_topk) r.weight /= sum;
    r.weight *= cfg.route_scale;
  }
  return routes;
}

}  // namespace whale::model
