#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sampling/constraint.h"
#include "util/error.h"

namespace whale::sampling {

namespace {

// Uniform double in [0, 1) from 53 random bits: the same on every platform and standard library
// (std::uniform_real_distribution is not specified bit for bit).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Sampler::Sampler(const SamplingParams& p, int64_t vocab_size)
    : params_(p), vocab_size_(vocab_size), rng_(p.seed ? *p.seed : fresh_seed()) {
  if (vocab_size <= 0) fail("sampler: vocab size must be positive, got ", vocab_size);
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature))
    fail("sampler: temperature must be >= 0, got ", p.temperature);
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("sampler: top_p must be in (0, 1], got ", p.top_p);
  if (p.top_k < 0) fail("sampler: top_k must be >= 0, got ", p.top_k);
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail("sampler: min_p must be in [0, 1], got ", p.min_p);
  if (!std::isfinite(p.frequency_penalty) || !std::isfinite(p.presence_penalty))
    fail("sampler: penalties must be finite, got frequency ", p.frequency_penalty, " presence ",
         p.presence_penalty);
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty))
    fail("sampler: repetition_penalty must be > 0, got ", p.repetition_penalty);
  if (p.top_logprobs < -1 || p.top_logprobs > 20)
    fail("sampler: top_logprobs must be in [-1, 20], got ", p.top_logprobs);
}

void Sampler::set_prompt(std::span<const int32_t> prompt) {
  if (params_.repetition_penalty == 1.0f) return;
  seen_.insert(prompt.begin(), prompt.end());
}

void Sampler::apply_penalties(std::vector<float>& logits) const {
  if (params_.repetition_penalty != 1.0f) {
    const float r = params_.repetition_penalty;
    for (int32_t id : seen_) {
      if (id < 0 || id >= vocab_size_) continue;
      float& l = logits[id];
      l = l > 0 ? l / r : l * r;
    }
  }
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) {
    for (const auto& [id, count] : generated_counts_) {
      if (id < 0 || id >= vocab_size_) continue;
      logits[id] -= static_cast<float>(count) * params_.frequency_penalty +
                    (count > 0 ? params_.presence_penalty : 0.0f);
    }
  }
}

int32_t Sampler::pick_greedy(const std::vector<float>& logits) const {
  int32_t best = -1;
  float best_l = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < static_cast<int32_t>(logits.size()); ++i) {
    // Strict '>' keeps the lowest id among equal maxima; -inf and NaN never win.
    if (logits[i] > best_l) {
      best_l = logits[i];
      best = i;
    }
  }
  return best;
}

int32_t Sampler::pick_random(const std::vector<float>& logits) {
  const float inv_t = 1.0f / params_.temperature;
  const int32_t n_vocab = static_cast<int32_t>(logits.size());
  float max_l = -std::numeric_limits<float>::infinity();
  for (float l : logits)
    if (std::isfinite(l) && l > max_l) max_l = l;
  if (!std::isfinite(max_l)) return -1;  // everything masked (or NaN)

  const bool filtered = params_.top_k > 0 || params_.top_p < 1.0f || params_.min_p > 0.0f;
  if (!filtered) {
    // The common case: one pass for the weights exp((l - max) / T), one draw.
    weights_.resize(static_cast<size_t>(n_vocab));
    double total = 0;
    for (int32_t i = 0; i < n_vocab; ++i) {
      const float w = std::isfinite(logits[i]) ? std::exp((logits[i] - max_l) * inv_t) : 0.0f;
      weights_[i] = w;
      total += w;
    }
    double u = uniform01(rng_) * total;
    int32_t last = -1;
    for (int32_t i = 0; i < n_vocab; ++i) {
      if (weights_[i] == 0.0f) continue;
      last = i;
      u -= weights_[i];
      if (u < 0) return i;
    }
    return last;  // rounding left a sliver of u
  }

  cands_.clear();
  for (int32_t i = 0; i < n_vocab; ++i)
    if (std::isfinite(logits[i])) cands_.push_back({(logits[i] - max_l) * inv_t, i, 0.0f});
  // Better = higher logit, ties to the lower id, so every filter is deterministic.
  const auto better = [](const Cand& a, const Cand& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = cands_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    std::nth_element(cands_.begin(), cands_.begin() + params_.top_k, cands_.end(), better);
    n = static_cast<size_t>(params_.top_k);
    cands_.resize(n);
  }
  // Scaled logits are <= 0 with the best at 0 (the best survives top-k), so weights are in (0, 1].
  double total = 0;
  for (auto& c : cands_) {
    c.weight = std::exp(c.logit);
    total += c.weight;
  }
  if (params_.top_p < 1.0f) {
    // The smallest best-first prefix holding top_p of the mass, found by halving (nth_element
    // splits a range into its better and worse halves) instead of sorting the vocabulary.
    const double target = static_cast<double>(params_.top_p) * total;
    size_t lo = 0, hi = n;  // the answer's end lies in [lo, hi]; [0, lo) is kept for sure
    double kept = 0;
    while (hi - lo > 64) {
      const size_t mid = lo + (hi - lo) / 2;
      std::nth_element(cands_.begin() + lo, cands_.begin() + mid, cands_.begin() + hi, better);
      double m = 0;
      for (size_t i = lo; i < mid; ++i) m += cands_[i].weight;
      if (kept + m >= target) {
        hi = mid;
      } else {
        kept += m;
        lo = mid;
      }
    }
    std::sort(cands_.begin() + lo, cands_.begin() + hi, better);
    size_t end = lo;
    while (end < hi) {
      kept += cands_[end].weight;
      ++end;
      if (kept >= target) break;
    }
    n = std::max<size_t>(end, 1);
    cands_.resize(n);
  }
  if (params_.min_p > 0.0f) {
    // p_i / p_max >= min_p with p_max's weight 1; renormalising after top-p keeps the ratio.
    size_t w = 0;
    for (size_t i = 0; i < n; ++i)
      if (cands_[i].weight >= params_.min_p) cands_[w++] = cands_[i];
    n = w;  // the best token (weight 1) always survives
    cands_.resize(n);
  }
  total = 0;
  for (const auto& c : cands_) total += c.weight;
  double u = uniform01(rng_) * total;
  for (const auto& c : cands_) {
    u -= c.weight;
    if (u < 0) return c.id;
  }
  return cands_.back().id;  // rounding left a sliver of u
}

int32_t Sampler::pick(const std::vector<float>& logits) {
  return params_.temperature == 0.0f ? pick_greedy(logits) : pick_random(logits);
}

void Sampler::fill_logprobs(std::span<const float> raw, Sample& out) const {
  float max_l = -std::numeric_limits<float>::infinity();
  for (float l : raw)
    if (l > max_l) max_l = l;
  double sum = 0;
  for (float l : raw)
    if (std::isfinite(l)) sum += std::exp(static_cast<double>(l - max_l));
  const double log_z = static_cast<double>(max_l) + std::log(sum);
  out.logprob = static_cast<float>(static_cast<double>(raw[out.token]) - log_z);
  const size_t n_top = std::min<size_t>(static_cast<size_t>(params_.top_logprobs), raw.size());
  if (n_top == 0) return;
  // A small selection: keep the n_top best seen so far, sorted, best first.
  std::vector<TokenLogprob> best;
  best.reserve(n_top + 1);
  for (int32_t i = 0; i < static_cast<int32_t>(raw.size()); ++i) {
    const float l = raw[i];
    if (best.size() == n_top && !(l > best.back().logprob)) continue;
    auto pos = std::upper_bound(best.begin(), best.end(), l,
                                [](float v, const TokenLogprob& e) { return v > e.logprob; });
    best.insert(pos, {i, l});
    if (best.size() > n_top) best.pop_back();
  }
  for (auto& e : best) e.logprob = static_cast<float>(static_cast<double>(e.logprob) - log_z);
  out.top = std::move(best);
}

Sample Sampler::sample(std::span<const float> logits, TokenConstraint* constraint) {
  if (static_cast<int64_t>(logits.size()) != vocab_size_)
    fail("sampler: logits row has ", logits.size(), " entries, vocab size is ", vocab_size_);
  work_.assign(logits.begin(), logits.end());
  apply_penalties(work_);
  int32_t token = pick(work_);
  if (constraint && (token < 0 || !constraint->allows(token))) {
    constraint->mask(work_);
    token = pick(work_);
    if (token < 0) fail("sampler: the constraint allows no token");
  }
  if (token < 0) fail("sampler: every logit is -inf or NaN");
  Sample out;
  out.token = token;
  ++generated_counts_[token];
  if (params_.repetition_penalty != 1.0f) seen_.insert(token);
  if (params_.top_logprobs >= 0) fill_logprobs(logits, out);
  return out;
}

}  // namespace whale::sampling
