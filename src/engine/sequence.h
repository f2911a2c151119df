// One request inside the engine: its tokens, how many of them are in the KV cache, the blocks
// that hold them, and its sampler. Owned by the scheduler thread (in the wait queue or running).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/stream_impl.h"
#include "sampling/sampler.h"

namespace whale::engine {

using Clock = std::chrono::steady_clock;

struct Sequence {
  uint64_t order = 0;  // submission order: a larger value is a younger request
  GenerateRequest request;
  std::shared_ptr<StreamImpl> stream;
  std::unique_ptr<sampling::Sampler> sampler;

  // Prompt followed by the generated tokens. The KV cache holds the first n_computed; the rest
  // are fed at the next steps (a prompt chunk by chunk, then one sampled token per step). After
  // a preemption n_computed is 0 and everything is recomputed; the sampler's state is kept, so
  // the output continues as if nothing happened.
  std::vector<int32_t> tokens;
  int32_t n_prompt = 0;
  int32_t n_computed = 0;
  int32_t n_generated = 0;
  std::vector<int32_t> blocks;  // block table: position p lives in blocks[p / 64]
  int32_t step_new = 0;         // tokens the current step computes for it (0: it waits)

  std::vector<uint64_t> chain;  // prefix-cache chain hashes of the full blocks of `tokens`
  int32_t cached_tokens = 0;    // prompt tokens reported as cache hits (Usage)
  bool cache_looked_up = false; // the first lookup decides cached_tokens

  bool counted = false;  // prompt tokens added to the engine's totals (once, despite preemption)
  Clock::time_point submitted;
  Clock::time_point first_token;
  bool has_first_token = false;

  int32_t pending() const { return static_cast<int32_t>(tokens.size()) - n_computed; }
};

}  // namespace whale::engine
