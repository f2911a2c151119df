#include "server/schema_chat.h"
#include "server/schema_sampling.h"

#include <algorithm>
#include <cctype>

#include "server/json_fields.h"
#include "server/schema_tools.h"

namespace whale::server {

using nlohmann::json;

namespace {

const char* kThinkingGuide = "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls";
const char* kPrefixGuide = "https://api-docs.deepseek.com/guides/chat_prefix_completion";

// Content: a string, an array of text parts (joined with no separator), or null.
std::optional<std::string> read_content(const JsonFields& f, bool required) {
  auto it = f.object().find("content");
  if (it == f.object().end()) {
    if (required) f.missing("content");
    return std::nullopt;
  }
  const json& c = *it;
  if (c.is_null()) {
    if (required) f.type_error("content", c, "a string");
    return std::nullopt;
  }
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    std::string joined;
    for (const auto& part : c) {
      const bool text_part = part.is_object() && part.value("type", json()) == "text" &&
                             part.contains("text") && part["text"].is_string();
      if (!text_part)
        f.fail_at("content",
                  "data did not match any variant of untagged enum "
                  "ChatCompletionRequestContent (only text parts are supported)");
      joined += part["text"].get<std::string>();
    }
    return joined;
  }
  f.type_error("content", c, "a string");
}

std::vector<ToolCall> read_tool_calls(const JsonFields& f, const json& calls) {
  if (!calls.is_array()) f.type_error("tool_calls", calls, "a sequence");
  std::vector<ToolCall> out;
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string path = f.path_of("tool_calls") + "[" + std::to_string(i) + "]";
    const json& c = calls[i];
    if (!c.is_object())
      throw deserialize_error(path + ": invalid type: " + describe_json_value(c) +
                                  ", expected struct ToolCall", f.e2());
    JsonFields cf(c, path, f.e2());
    ToolCall call;
    call.id = cf.req_string("id");
    call.type = cf.opt_string("type").value_or("function");
    if (call.type != "function")
      cf.fail_at("type", "unknown variant `" + call.type + "`, expected `function`");
    auto fit = c.find("function");
    if (fit == c.end()) cf.missing("function");
    if (!fit->is_object()) cf.type_error("function", *fit, "struct FunctionCall");
    JsonFields ff(*fit, path + ".function", f.e2());
    call.name = ff.req_string("name");
    auto ait = fit->find("arguments");
    if (ait == fit->end()) ff.missing("arguments");
    // Some clients send the arguments as an object; keep it as the JSON text it stands for.
    call.arguments = ait->is_string() ? ait->get<std::string>() : ait->dump();
    out.push_back(std::move(call));
  }
  return out;
}

ChatMessage read_message(const json& m, size_t index, bool e2) {
  const std::string path = "messages[" + std::to_string(index) + "]";
  if (!m.is_object())
    throw deserialize_error(path + ": invalid type: " + describe_json_value(m) +
                                ", expected internally tagged enum ChatMessage", e2);
  JsonFields f(m, path, e2);
  ChatMessage msg;
  auto rit = m.find("role");
  if (rit == m.end()) f.missing("role");
  if (!rit->is_string()) f.type_error("role", *rit, "a string");
  msg.role = rit->get<std::string>();
  if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
    throw deserialize_error(path + ": unknown variant `" + msg.role +
                                "`, expected one of `system`, `user`, `assistant`, `tool`", e2);
  msg.name = f.opt_string("name");
  if (msg.role == "assistant") {
    if (const json* tc = f.get("tool_calls")) {
      msg.tool_calls = read_tool_calls(f, *tc);
      msg.has_tool_calls = true;
    }
    // A missing content next to tool_calls is treated as null ([whale], §2.2).
    msg.content = read_content(f, false);
    msg.has_reasoning_content = m.contains("reasoning_content");
    msg.reasoning_content = f.opt_string("reasoning_content");
    msg.prefix = f.opt_bool("prefix").value_or(false);
  } else {
    msg.content = read_content(f, true);
    if (msg.role == "tool") msg.tool_call_id = f.req_string("tool_call_id");
  }
  return msg;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Rules on the message list that depend on the mode and profile (§2.2, §4.3, §4.4).
void check_messages(const ChatRequest& r, Compat compat) {
  const auto& msgs = r.messages;
  // prefix only on a trailing assistant message.
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].prefix && i + 1 != msgs.size())
      throw bad_request("Invalid messages[" + std::to_string(i) +
                        "].prefix value, `prefix: true` is only allowed on the last message");
  }
  // Every tool message answers a call made by an earlier assistant message.
  std::vector<std::string> call_ids;
  for (size_t i = 0; i < msgs.size(); ++i) {
    for (const auto& c : msgs[i].tool_calls) call_ids.push_back(c.id);
    if (msgs[i].role == "tool" &&
        std::find(call_ids.begin(), call_ids.end(), msgs[i].tool_call_id) == call_ids.end())
      throw bad_request("Invalid messages[" + std::to_string(i) + "].tool_call_id value \"" +
                        msgs[i].tool_call_id +
                        "\": it does not match a tool call of an earlier assistant message");
  }
  if (!r.thinking) return;
  if (compat == Compat::kE2) {
    for (size_t i = 0; i < msgs.size(); ++i) {
      const bool prefix_case = msgs[i].prefix && i + 1 == msgs.size();
      if (msgs[i].reasoning_content && !prefix_case)
        throw bad_request(
            "The reasoning_content is an intermediate result for display purposes only and will "
            "not be included in the context for inference. Please remove the reasoning_content "
            "from your message to reduce network traffic.");
    }
    for (size_t i = 0; i + 1 < msgs.size(); ++i) {
      const auto& a = msgs[i].role;
      if (a == msgs[i + 1].role && (a == "user" || a == "assistant"))
        throw bad_request("deepseek-reasoner does not support successive user or assistant "
                          "messages (messages[" + std::to_string(i) + "] and messages[" +
                          std::to_string(i + 1) +
                          "] in your input). You should interleave the user/assistant messages "
                          "in the message sequence.");
    }
    const auto& last = msgs.back();
    if (!(last.role == "user" || (last.role == "assistant" && last.prefix)))
      throw bad_request(std::string("The last message of deepseek-reasoner must be a user "
                                    "message, or an assistant message with prefix mode on "
                                    "(refer to ") + kPrefixGuide + ").");
    return;
  }
  // E3: assistant tool-call messages after the last user message carry their reasoning.
  size_t last_user = msgs.size();
  for (size_t i = msgs.size(); i-- > 0;)
    if (msgs[i].role == "user") {
      last_user = i;
      break;
    }
  for (size_t i = (last_user == msgs.size() ? 0 : last_user + 1); i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.role == "assistant" && m.has_tool_calls && !m.has_reasoning_content)
      throw bad_request("Missing `reasoning_content` field in the assistant message at message "
                        "index " + std::to_string(i) + ". For more information, please refer to " +
                        kThinkingGuide);
  }
}

}  // namespace

float map_temperature(float t, bool deepseek_mapping) {
  if (!deepseek_mapping) return t;
  return t <= 1.0f ? 0.3f * t : t - 0.7f;
}

ApiError context_overflow(int64_t n_ctx, int64_t prompt_tokens, int64_t completion) {
  return bad_request("This model's maximum context length is " + std::to_string(n_ctx) +
                     " tokens. However, you requested " +
                     std::to_string(prompt_tokens + completion) + " tokens (" +
                     std::to_string(prompt_tokens) + " in the messages, " +
                     std::to_string(completion) +
                     " in the completion). Please reduce the length of the messages or "
                     "completion.");
}

int32_t completion_budget(int64_t n_ctx, int64_t prompt_tokens, std::optional<int32_t> requested,
                          int32_t default_value) {
  if (requested) {
    if (prompt_tokens + *requested > n_ctx) throw context_overflow(n_ctx, prompt_tokens, *requested);
    return *requested;
  }
  // Only the prompt is checked; generation then stops at the context end (§2.4).
  if (prompt_tokens >= n_ctx) throw context_overflow(n_ctx, prompt_tokens, 0);
  return static_cast<int32_t>(std::min<int64_t>(default_value, n_ctx - prompt_tokens));
}

ChatRequest parse_chat_request(const json& body, const ApiConfig& config) {
  const bool e2 = config.compat == Compat::kE2;
  if (!body.is_object())
    throw deserialize_error("invalid type: " + describe_json_value(body) +
                                ", expected struct ChatCompletionRequest", e2);
  JsonFields f(body, "", e2);
  ChatRequest r;

  // --- 1. Types (deserialize errors), in the order the fields are declared.
  auto mit = body.find("messages");
  r.model = f.req_string("model");
  if (mit == body.end()) f.missing("messages");
  if (!mit->is_array()) f.type_error("messages", *mit, "a sequence");
  for (size_t i = 0; i < mit->size(); ++i) r.messages.push_back(read_message((*mit)[i], i, e2));

  std::optional<bool> thinking_field;
  if (!e2) {
    if (const json* t = f.get("thinking")) {
      if (!t->is_object()) f.type_error("thinking", *t, "struct Thinking");
      JsonFields tf(*t, "thinking", e2);
      const std::string type = tf.req_string("type");
      if (type == "enabled") thinking_field = true;
      else if (type == "disabled") thinking_field = false;
      else tf.fail_at("type", "unknown variant `" + type + "`, expected `enabled` or `disabled`");
    }
  }
  const auto max_tokens = f.opt_int("max_tokens");
  const SharedFields shared = read_shared_fields(f);
  r.stop = shared.stop;
  r.stream = shared.stream;
  r.include_usage = shared.include_usage;
  bool json_schema = false;
  if (const json* rf = f.get("response_format")) {
    if (!rf->is_object()) f.type_error("response_format", *rf, "struct ResponseFormat");
    JsonFields rff(*rf, "response_format", e2);
    const std::string type = rff.req_string("type");
    if (type == "json_object") r.json_mode = true;
    else if (type == "json_schema") json_schema = true;
    else if (type != "text")
      rff.fail_at("type", "unknown variant `" + type +
                              "`, expected one of `text`, `json_object`, `json_schema`");
  }
  if (const json* t = f.get("tools")) r.tools = parse_tools(*t, e2);
  bool tool_choice_given = false;
  if (const json* tc = f.get("tool_choice")) {
    parse_tool_choice(*tc, e2, r.tool_choice, r.tool_choice_name);
    tool_choice_given = true;
  }
  r.logprobs = f.opt_bool("logprobs").value_or(false);
  const auto top_logprobs = f.opt_int("top_logprobs");
  const auto n = f.opt_int("n");
  const auto repetition_penalty = f.opt_number("repetition_penalty");  // extension

  // --- 2. Field ranges.
  const ServedModel* served = config.find_model(r.model);
  r.thinking = thinking_field.value_or(served ? served->thinking : false);
  const MaxTokensRule rule = chat_max_tokens_rule(config.compat, r.thinking);
  r.max_tokens_default = rule.default_value;
  r.max_tokens_limit = rule.limit;
  if (max_tokens) {
    if (*max_tokens < 1 || *max_tokens > rule.limit)
      throw bad_request(range_message("max_tokens", "[1, " + std::to_string(rule.limit) + "]"));
    r.max_tokens = static_cast<int32_t>(*max_tokens);
  }
  check_shared_ranges(shared, config);
  if (n && *n != 1) throw bad_request("Invalid n value, only n = 1 is supported");
  if (top_logprobs) {
    if (*top_logprobs > 20) throw bad_request(range_message("top_logprobs", "[0, 20]"));
    if (!r.logprobs)
      throw bad_request("Invalid top_logprobs value, top_logprobs requires logprobs to be true");
    r.top_logprobs = static_cast<int32_t>(*top_logprobs);
  }
  if (repetition_penalty && (*repetition_penalty <= 0 || *repetition_penalty > 10))
    throw bad_request(range_message("repetition_penalty", "(0, 10]"));
  if (r.messages.empty())
    throw bad_request("Invalid messages value, messages must contain at least one message");

  // --- 3. Model and feature rules.
  if (!served) throw bad_request("Model Not Exist");
  if (json_schema) throw bad_request("This response_format type is unavailable now");
  if (!tool_choice_given) r.tool_choice = r.tools.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  check_tools(r.tools, r.tool_choice, r.tool_choice_name);
  if (r.thinking) {
    if (r.logprobs || top_logprobs)
      throw bad_request("deepseek-reasoner does not support the parameter `logprobs`");
    if (config.compat == Compat::kE2) {
      if (r.json_mode) throw bad_request("deepseek-reasoner does not support Json Output.");
      if (!r.tools.empty()) throw bad_request("deepseek-reasoner does not support Function Calling.");
    } else if (r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kNamed) {
      throw bad_request("Thinking mode does not support this tool_choice");
    }
  }
  if (r.json_mode) {
    bool mentions_json = false;
    for (const auto& m : r.messages)
      if ((m.role == "system" || m.role == "user") && m.content &&
          lower(*m.content).find("json") != std::string::npos)
        mentions_json = true;
    if (!mentions_json)
      throw bad_request("Prompt must contain the word 'json' in some form to use "
                        "'response_format' of type 'json_object'.");
  }
  check_messages(r, config.compat);
  r.prefix_completion = r.messages.back().role == "assistant" && r.messages.back().prefix;

  // --- Sampling: in thinking mode the knobs are accepted and ignored (§2.3).
  auto& s = r.sampling;
  r.api_temperature = static_cast<float>(shared.temperature.value_or(1.0));
  apply_shared_sampling(shared, config, s);
  if (r.thinking) {
    s.temperature = 0.6f;  // the R1 model card's recommendation
    s.top_p = 0.95f;
    s.frequency_penalty = s.presence_penalty = 0.0f;
  }
  s.repetition_penalty = static_cast<float>(repetition_penalty.value_or(1.0));
  s.top_logprobs = r.logprobs ? r.top_logprobs : -1;
  return r;
}

}  // namespace whale::server
