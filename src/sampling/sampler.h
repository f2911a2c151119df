// The sampler chain for one request: picks each next token from a row of raw logits.
//
// Order of the chain (each stage sees the previous one's output):
//   1. penalties: repetition (CTRL-style, over prompt and generated tokens: a positive logit is
//      divided by the penalty, a negative one multiplied), then OpenAI frequency/presence over the
//      generated tokens only: logit[j] -= count[j] * frequency + (count[j] > 0) * presence;
//   2. temperature 0 → greedy: argmax, ties to the lowest id;
//   3. otherwise logits / temperature, then top-k (k best logits), top-p (the smallest set of
//      most probable tokens whose probability sums to at least top_p), min-p (tokens with
//      probability ≥ min_p × the best one's), each on the renormalised survivors of the stage
//      before; then one draw from the per-request RNG (std::mt19937_64, seeded from `seed` when
//      given, so the same seed and logits give the same tokens).
// A constraint is applied sample-then-verify: the chain runs unconstrained; if the constraint
// rejects the pick, the disallowed ids are masked and the chain runs again. For greedy this is
// exactly the constrained argmax; for sampling without filters it is exactly the constrained
// distribution (P(x) = p(x) / P(allowed)).
//
// Logprobs are the log-softmax of the *raw* logits (before penalties, temperature, filters and
// constraint): what the model believes, which is what the OpenAI API reports. `top` lists the
// best `top_logprobs` tokens by raw logit (ties to the lowest id), best first.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sampling/sampling_params.h"

namespace whale::sampling {

class TokenConstraint;

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct Sample {
  int32_t token = 0;
  float logprob = 0;               // when params.top_logprobs >= 0
  std::vector<TokenLogprob> top;   // params.top_logprobs entries (fewer if the vocab is smaller)
};

class Sampler {
 public:
  // Throws whale::Error on out-of-range parameters (temperature < 0, top_p outside (0, 1], ...).
  Sampler(const SamplingParams& params, int64_t vocab_size);

  // Tokens the repetition penalty also counts (the prompt); call once before the first sample.
  void set_prompt(std::span<const int32_t> prompt);

  // Picks the next token from `logits` (vocab_size raw logits, left unchanged) and records it
  // for the penalties. `constraint` may be null; it is asked but not advanced (the caller calls
  // constraint->accept once it emits the token). Throws whale::Error if no token is allowed.
  Sample sample(std::span<const float> logits, TokenConstraint* constraint);

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(std::vector<float>& logits) const;
  int32_t pick(const std::vector<float>& logits);
  int32_t pick_greedy(const std::vector<float>& logits) const;
  int32_t pick_random(const std::vector<float>& logits);
  void fill_logprobs(std::span<const float> raw, Sample& out) const;

  SamplingParams params_;
  int64_t vocab_size_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  std::unordered_set<int32_t> seen_;  // prompt and generated (repetition penalty)
  std::vector<float> work_;           // penalised logits (reused)
  struct Cand {
    float logit;   // (logit - max) / temperature
    int32_t id;
    float weight;  // exp(logit): probability up to a common factor
  };
  std::vector<Cand> cands_;     // filter scratch (reused)
  std::vector<float> weights_;  // unfiltered path scratch (reused)
};

}  // namespace whale::sampling
