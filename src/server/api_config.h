// What the API layer serves: the model names it answers to, the compat profile (spec api.md §0)
// and the limits that follow from them (§2.4, §6).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace whale::server {

enum class Compat { kE3, kE2 };

struct ServedModel {
  std::string name;       // "deepseek-chat", "deepseek-reasoner", or a configured alias
  bool thinking = false;  // thinking mode unless the request's `thinking` field says otherwise
};

struct ApiConfig {
  Compat compat = Compat::kE3;
  std::vector<ServedModel> models = {{"deepseek-chat", false}, {"deepseek-reasoner", true}};
  bool deepseek_temperature_mapping = true;  // §2.5; false = identity
  int32_t n_ctx = 8192;                      // the served context (prompt + completion)
  int32_t max_stop_strings = 16;
  bool fim_available = true;                 // the model has FIM tokens

  const ServedModel* find_model(const std::string& name) const {
    for (const auto& m : models)
      if (m.name == name) return &m;
    return nullptr;
  }
};

// max_tokens default and upper bound for chat requests (§2.4).
struct MaxTokensRule {
  int32_t default_value;
  int32_t limit;
};
inline MaxTokensRule chat_max_tokens_rule(Compat compat, bool thinking) {
  if (thinking && compat == Compat::kE3) return {32768, 65536};
  return {4096, 8192};
}

// Chain-of-thought budget added on top of max_tokens for E2 reasoner requests, where
// max_tokens limits the final answer only (§2.4).
inline constexpr int32_t kE2ReasoningBudget = 32768;

// FIM limits (§6).
inline constexpr int32_t kFimMaxTokensDefault = 1024;
inline constexpr int32_t kFimMaxTokensLimit = 4096;

}  // namespace whale::server
