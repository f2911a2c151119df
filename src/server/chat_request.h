// A validated /chat/completions request (spec api.md §2), as the handler uses it. Produced by
// parse_chat_request (schema_chat.h) from the JSON body; every field is already range-checked.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/sampling_params.h"

namespace whale::server {

struct ToolCall {
  std::string id;
  std::string type = "function";
  std::string name;
  std::string arguments;  // JSON text, passed through as given
};

struct ChatMessage {
  std::string role;                       // system, user, assistant, tool
  std::optional<std::string> content;     // text parts joined; nullopt = null / missing
  std::optional<std::string> name;
  std::vector<ToolCall> tool_calls;
  bool has_tool_calls = false;            // the key was present and non-null
  std::optional<std::string> reasoning_content;
  bool has_reasoning_content = false;     // the key was present (even null)
  bool prefix = false;                    // assistant prefix completion (§4.4)
  std::string tool_call_id;               // role tool
};

struct ToolDefinition {
  std::string name;
  std::string description;
  nlohmann::json parameters;  // object schema; null when omitted
  bool strict = false;
};

enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ChatRequest {
  std::string model;
  bool thinking = false;                 // resolved from model and the `thinking` field
  std::vector<ChatMessage> messages;
  std::optional<int32_t> max_tokens;     // as given (validated); default applied later
  int32_t max_tokens_limit = 8192;
  int32_t max_tokens_default = 4096;
  sampling::SamplingParams sampling;     // model-side values (after temperature mapping)
  float api_temperature = 1.0f;          // as given, for logs
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  bool json_mode = false;
  std::vector<ToolDefinition> tools;
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_choice_name;          // for kNamed
  bool logprobs = false;
  int32_t top_logprobs = 0;
  bool prefix_completion = false;        // last message is an assistant prefix
};

}  // namespace whale::server
