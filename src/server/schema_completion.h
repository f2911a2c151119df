// /completions and /beta/completions (FIM) request parsing and validation (spec api.md §6).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/sampling_params.h"
#include "server/api_config.h"

namespace whale::server {

struct CompletionRequest {
  std::string model;
  std::string prompt;
  std::optional<std::string> suffix;
  int32_t max_tokens = kFimMaxTokensDefault;
  bool max_tokens_given = false;
  bool echo = false;
  int32_t logprobs = -1;  // -1: none; else top-N alternatives per position
  sampling::SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
};

CompletionRequest parse_completion_request(const nlohmann::json& body, const ApiConfig& config);

}  // namespace whale::server
