// What a request asks of the sampler (validated by the server before it gets here).
#pragma once
#include <cstdint>
#include <optional>

namespace whale::sampling {

struct SamplingParams {
  float temperature = 1.0f;        // 0 = greedy
  float top_p = 1.0f;              // (0, 1]
  int32_t top_k = 0;               // 0 = off
  float min_p = 0.0f;              // 0 = off
  float frequency_penalty = 0.0f;  // [-2, 2], OpenAI semantics (count-scaled)
  float presence_penalty = 0.0f;   // [-2, 2]
  float repetition_penalty = 1.0f; // 1 = off (llama.cpp style, over generated and prompt tokens)
  std::optional<uint64_t> seed;    // reproducible sampling when set
  int32_t top_logprobs = -1;       // -1: no logprobs; 0..20: chosen token's + that many best
};

}  // namespace whale::sampling
