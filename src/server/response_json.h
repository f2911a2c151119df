// JSON shapes of chat and text completion responses and stream chunks (spec api.md §3, §6).
// Key order follows the observed hosted order. Text is dumped with invalid UTF-8 replaced, so a
// token that is half a character can never make serialisation throw.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/generation.h"

namespace whale::server {

using ojson = nlohmann::ordered_json;

struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
  std::string fingerprint;
};

// Compact JSON text (invalid UTF-8 replaced by U+FFFD).
std::string dump_json(const ojson& value);

// usage object; `chat` adds prompt_tokens_details and completion_tokens_details.
ojson usage_json(const GenerationUsage& usage, bool chat);

// Collects the deltas of one generation into the final message.
struct MessageAccumulator {
  std::string reasoning;
  std::string content;
  struct Call {
    std::string id, name, arguments;
  };
  std::vector<Call> calls;
  std::vector<LogprobEntry> logprobs;
  void add(const Delta& delta);
};

// chat.completion logprobs object {"content":[...]} with at most `top_n` alternatives each.
ojson chat_logprobs_json(const std::vector<LogprobEntry>& entries, int top_n);

std::string chat_completion_body(const ResponseMeta& meta, const MessageAccumulator& message,
                                 bool thinking, bool logprobs, int top_n,
                                 const std::string& finish_reason, const GenerationUsage& usage);

// One chat.completion.chunk. `delta` is the delta object; `finish_reason` empty = null.
// usage: when set it is written; else when `usage_null` is true "usage": null is written.
std::string chat_chunk(const ResponseMeta& meta, const ojson& delta, const ojson& logprobs,
                       const std::string& finish_reason, const std::optional<ojson>& usage,
                       bool usage_null);

// Legacy completions logprobs {tokens, token_logprobs, top_logprobs, text_offset}.
ojson text_logprobs_json(const std::vector<LogprobEntry>& entries, int top_n, size_t text_offset0);

std::string text_completion_body(const ResponseMeta& meta, const std::string& text,
                                 const ojson& logprobs, const std::string& finish_reason,
                                 const GenerationUsage& usage);
std::string text_chunk(const ResponseMeta& meta, const std::string& text, const ojson& logprobs,
                       const std::string& finish_reason, const std::optional<ojson>& usage,
                       bool usage_null);

}  // namespace whale::server
