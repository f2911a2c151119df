// /chat/completions request parsing and validation (spec api.md §2, §4, §7). Checks run in the
// spec's order: types (deserialize errors), field ranges, then model and feature rules. Every
// failure throws ApiError with the hosted wording and status.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

#include "server/api_config.h"
#include "server/chat_request.h"
#include "server/errors.h"

namespace whale::server {

ChatRequest parse_chat_request(const nlohmann::json& body, const ApiConfig& config);

// The §2.4 context-overflow error (400); `completion` is max_tokens as requested, 0 if omitted.
ApiError context_overflow(int64_t n_ctx, int64_t prompt_tokens, int64_t completion);

// Resolves max_tokens against the prompt: throws context_overflow when prompt plus requested
// completion exceed n_ctx (prompt alone, when max_tokens was omitted), else returns the number
// of tokens the engine may generate.
int32_t completion_budget(int64_t n_ctx, int64_t prompt_tokens, std::optional<int32_t> requested,
                          int32_t default_value);

// §2.5: the hosted mapping of the API temperature onto the model's sampling temperature.
float map_temperature(float api_temperature, bool deepseek_mapping);

}  // namespace whale::server
