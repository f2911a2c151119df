// Request validation of /chat/completions against spec api.md §2, §4, §7, §8 (wording and
// status of every error, defaults, ranges).
#include <gtest/gtest.h>

#include "server/errors.h"
#include "server/schema_chat.h"

namespace whale::server {
namespace {

using nlohmann::json;

json base() {
  return json{{"model", "deepseek-chat"}, {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})}};
}

// Runs the parser and returns the error (status, message), or status 0 when it passed.
std::pair<int, std::string> check(const json& body, Compat compat = Compat::kE3) {
  ApiConfig config;
  config.compat = compat;
  try {
    parse_chat_request(body, config);
  } catch (const ApiError& e) {
    return {e.status(), e.what()};
  }
  return {0, ""};
}

json with(json body, const std::string& key, json value) {
  body[key] = std::move(value);
  return body;
}

TEST(SchemaChat, MinimalRequestGetsDefaults) {
  ApiConfig config;
  const ChatRequest r = parse_chat_request(base(), config);
  EXPECT_EQ(r.model, "deepseek-chat");
  EXPECT_FALSE(r.thinking);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.max_tokens_default, 4096);
  EXPECT_EQ(r.max_tokens_limit, 8192);
  // Default API temperature 1.0 maps to 0.3 (§2.5).
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.3f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_logprobs, -1);
  EXPECT_EQ(r.tool_choice, ToolChoice::kNone);
  EXPECT_FALSE(r.stream);
}

TEST(SchemaChat, TemperatureMapping) {
  EXPECT_FLOAT_EQ(map_temperature(0.0f, true), 0.0f);
  EXPECT_FLOAT_EQ(map_temperature(1.0f, true), 0.3f);
  EXPECT_FLOAT_EQ(map_temperature(0.5f, true), 0.15f);
  EXPECT_NEAR(map_temperature(1.3f, true), 0.6f, 1e-6);
  EXPECT_NEAR(map_temperature(2.0f, true), 1.3f, 1e-6);
  EXPECT_FLOAT_EQ(map_temperature(1.5f, false), 1.5f);
}

TEST(SchemaChat, UnknownModel) {
  EXPECT_EQ(check(with(base(), "model", "gpt-4")), std::make_pair(400, std::string("Model Not Exist")));
}

TEST(SchemaChat, MissingFields) {
  json b = base();
  b.erase("messages");
  EXPECT_EQ(check(b), std::make_pair(400, std::string("Failed to deserialize the JSON body into "
                                                      "the target type: missing field `messages`")));
  b = base();
  b.erase("model");
  EXPECT_EQ(check(b).second,
            "Failed to deserialize the JSON body into the target type: missing field `model`");
}

TEST(SchemaChat, TypeErrorsAre400InE3And422InE2) {
  const json b = with(base(), "temperature", "1.3");
  const auto e3 = check(b, Compat::kE3);
  EXPECT_EQ(e3.first, 400);
  EXPECT_EQ(e3.second,
            "Failed to deserialize the JSON body into the target type: temperature: invalid type: "
            "string \"1.3\", expected f32");
  EXPECT_EQ(check(b, Compat::kE2).first, 422);
}

TEST(SchemaChat, MaxTokensRange) {
  const std::string msg = "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]";
  EXPECT_EQ(check(with(base(), "max_tokens", 0)), std::make_pair(400, msg));
  EXPECT_EQ(check(with(base(), "max_tokens", 8193)), std::make_pair(400, msg));
  EXPECT_EQ(check(with(base(), "max_tokens", 8192)).first, 0);
  EXPECT_EQ(check(with(base(), "max_tokens", 1)).first, 0);
  EXPECT_EQ(check(with(base(), "max_tokens", 1.5)).first, 400);  // wrong type
}

TEST(SchemaChat, ThinkingMaxTokensDefaultsAndLimitE3) {
  ApiConfig config;
  const ChatRequest r = parse_chat_request(with(base(), "model", "deepseek-reasoner"), config);
  EXPECT_TRUE(r.thinking);
  EXPECT_EQ(r.max_tokens_default, 32768);
  EXPECT_EQ(r.max_tokens_limit, 65536);
  json b = with(base(), "model", "deepseek-reasoner");
  EXPECT_EQ(check(with(b, "max_tokens", 65536)).first, 0);
  EXPECT_EQ(check(with(b, "max_tokens", 65537)).second,
            "Invalid max_tokens value, the valid range of max_tokens is [1, 65536]");
  // E2 reasoner: 8192 answer tokens.
  EXPECT_EQ(check(with(b, "max_tokens", 8193), Compat::kE2).second,
            "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]");
}

TEST(SchemaChat, TemperatureRange) {
  EXPECT_EQ(check(with(base(), "temperature", 0)).first, 0);
  EXPECT_EQ(check(with(base(), "temperature", 2)).first, 0);
  EXPECT_EQ(check(with(base(), "temperature", 2.01)),
            std::make_pair(400, std::string("Invalid temperature value, the valid range of "
                                            "temperature is [0, 2.0]")));
  EXPECT_EQ(check(with(base(), "temperature", -0.01)).first, 400);
}

TEST(SchemaChat, TopPRange) {
  const std::string msg = "Invalid top_p value, the valid range of top_p is (0, 1.0]";
  EXPECT_EQ(check(with(base(), "top_p", 0)), std::make_pair(400, msg));
  EXPECT_EQ(check(with(base(), "top_p", 1.01)), std::make_pair(400, msg));
  EXPECT_EQ(check(with(base(), "top_p", 1)).first, 0);
  EXPECT_EQ(check(with(base(), "top_p", 0.001)).first, 0);
}

TEST(SchemaChat, PenaltyRanges) {
  for (const char* field : {"frequency_penalty", "presence_penalty"}) {
    EXPECT_EQ(check(with(base(), field, -2)).first, 0) << field;
    EXPECT_EQ(check(with(base(), field, 2)).first, 0) << field;
    const std::string msg = std::string("Invalid ") + field + " value, the valid range of " +
                            field + " is [-2, 2]";
    EXPECT_EQ(check(with(base(), field, 2.01)), std::make_pair(400, msg));
    EXPECT_EQ(check(with(base(), field, -2.01)), std::make_pair(400, msg));
  }
}

TEST(SchemaChat, StopStrings) {
  EXPECT_EQ(check(with(base(), "stop", "END")).first, 0);
  json sixteen = json::array(), seventeen = json::array();
  for (int i = 0; i < 16; ++i) sixteen.push_back("s" + std::to_string(i));
  seventeen = sixteen;
  seventeen.push_back("x");
  EXPECT_EQ(check(with(base(), "stop", sixteen)).first, 0);
  const auto e = check(with(base(), "stop", seventeen));
  EXPECT_EQ(e.first, 400);
  EXPECT_NE(e.second.find("17"), std::string::npos);
  EXPECT_EQ(check(with(base(), "stop", json::array({1}))).first, 400);
  EXPECT_EQ(check(with(base(), "stop", 5)).first, 400);
}

TEST(SchemaChat, ExplicitNullsGiveDefaultsAndUnknownFieldsAreIgnored) {
  json b = base();
  for (const char* k : {"temperature", "top_p", "max_tokens", "stop", "stream", "stream_options",
                        "response_format", "tools", "tool_choice", "logprobs", "top_logprobs",
                        "n", "frequency_penalty", "presence_penalty", "thinking"})
    b[k] = nullptr;
  b["user"] = "someone";
  b["logit_bias"] = {{"1", 2}};
  b["parallel_tool_calls"] = true;
  b["max_completion_tokens"] = 5;
  b["temprature"] = "typo";
  b["seed"] = 42;
  ApiConfig config;
  const ChatRequest r = parse_chat_request(b, config);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.3f);
  EXPECT_EQ(r.sampling.seed.value_or(0), 42u);
}

TEST(SchemaChat, NMustBeOne) {
  EXPECT_EQ(check(with(base(), "n", 1)).first, 0);
  EXPECT_EQ(check(with(base(), "n", 2)),
            std::make_pair(400, std::string("Invalid n value, only n = 1 is supported")));
}

TEST(SchemaChat, ResponseFormat) {
  EXPECT_EQ(check(with(base(), "response_format", {{"type", "json_schema"}})),
            std::make_pair(400, std::string("This response_format type is unavailable now")));
  EXPECT_EQ(check(with(base(), "response_format", {{"type", "json_object"}})),
            std::make_pair(400, std::string("Prompt must contain the word 'json' in some form to "
                                            "use 'response_format' of type 'json_object'.")));
  json b = with(base(), "response_format", {{"type", "json_object"}});
  b["messages"][0]["content"] = "Answer in JSON please";
  EXPECT_EQ(check(b).first, 0);
  b["messages"] = json::array({{{"role", "system"}, {"content", "Reply with a Json object"}},
                               {{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(check(b).first, 0);
  EXPECT_EQ(check(with(base(), "response_format", {{"type", "text"}})).first, 0);
  EXPECT_EQ(check(with(base(), "response_format", {{"type", "xml"}})).first, 400);
}

json weather_tools() {
  return json::array({{{"type", "function"},
                       {"function",
                        {{"name", "get_weather"},
                         {"description", "Current weather"},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"city", {{"type", "string"}}}}},
                           {"required", {"city"}}}}}}}});
}

TEST(SchemaChat, ToolChoice) {
  json b = with(base(), "tools", weather_tools());
  ApiConfig config;
  EXPECT_EQ(parse_chat_request(b, config).tool_choice, ToolChoice::kAuto);
  EXPECT_EQ(check(with(b, "tool_choice", "none")).first, 0);
  EXPECT_EQ(check(with(b, "tool_choice", "required")).first, 0);
  EXPECT_EQ(check(with(b, "tool_choice", "sometimes")),
            std::make_pair(400, std::string("Failed to deserialize the JSON body into the target "
                                            "type: tool_choice: expected one of `none`, `auto`, "
                                            "`required` or a tool")));
  EXPECT_EQ(check(with(b, "tool_choice", {{"type", "function"},
                                          {"function", {{"name", "get_weather"}}}}))
                .first,
            0);
  const auto e = check(with(b, "tool_choice", {{"type", "function"},
                                               {"function", {{"name", "get_time"}}}}));
  EXPECT_EQ(e.first, 400);
  EXPECT_NE(e.second.find("get_time"), std::string::npos);
}

TEST(SchemaChat, ToolNameRules) {
  json tools = weather_tools();
  tools[0]["function"]["name"] = "bad name!";
  EXPECT_EQ(check(with(base(), "tools", tools)).first, 400);
  tools[0]["function"]["name"] = std::string(65, 'a');
  EXPECT_EQ(check(with(base(), "tools", tools)).first, 400);
  tools[0]["function"]["name"] = std::string(64, 'a');
  EXPECT_EQ(check(with(base(), "tools", tools)).first, 0);
  json many = json::array();
  for (int i = 0; i < 129; ++i) {
    json t = weather_tools()[0];
    t["function"]["name"] = "f" + std::to_string(i);
    many.push_back(t);
  }
  EXPECT_EQ(check(with(base(), "tools", many)).first, 400);
  many.erase(many.begin());
  EXPECT_EQ(check(with(base(), "tools", many)).first, 0);
}

TEST(SchemaChat, StrictToolSchemas) {
  json tools = weather_tools();
  tools[0]["function"]["strict"] = true;
  // additionalProperties missing.
  EXPECT_EQ(check(with(base(), "tools", tools)).first, 400);
  tools[0]["function"]["parameters"]["additionalProperties"] = false;
  EXPECT_EQ(check(with(base(), "tools", tools)).first, 0);
  tools[0]["function"]["parameters"]["properties"]["city"]["minLength"] = 1;
  const auto e = check(with(base(), "tools", tools));
  EXPECT_EQ(e.first, 400);
  EXPECT_NE(e.second.find("minLength"), std::string::npos);
  EXPECT_NE(e.second.find("properties.city"), std::string::npos);
}

TEST(SchemaChat, ThinkingModeRules) {
  json b = with(base(), "model", "deepseek-reasoner");
  // Sampling knobs accepted and ignored.
  json t = b;
  t["temperature"] = 1.7;
  t["top_p"] = 0.2;
  t["presence_penalty"] = 1;
  t["frequency_penalty"] = 1;
  EXPECT_EQ(check(t).first, 0);
  EXPECT_EQ(check(with(b, "logprobs", true)),
            std::make_pair(400, std::string("deepseek-reasoner does not support the parameter `logprobs`")));
  json tb = with(b, "tools", weather_tools());
  EXPECT_EQ(check(tb).first, 0);
  EXPECT_EQ(check(with(tb, "tool_choice", "required")),
            std::make_pair(400, std::string("Thinking mode does not support this tool_choice")));
  // The thinking field wins over the model name.
  ApiConfig config;
  EXPECT_TRUE(parse_chat_request(with(base(), "thinking", {{"type", "enabled"}}), config).thinking);
  EXPECT_FALSE(parse_chat_request(with(b, "thinking", {{"type", "disabled"}}), config).thinking);
  EXPECT_EQ(check(with(base(), "thinking", {{"type", "maybe"}})).first, 400);
}

TEST(SchemaChat, E2ReasonerRules) {
  json b = with(base(), "model", "deepseek-reasoner");
  EXPECT_EQ(check(with(b, "response_format", {{"type", "json_object"}}), Compat::kE2).second,
            "deepseek-reasoner does not support Json Output.");
  json m = b;
  m["messages"] = json::array({{{"role", "user"}, {"content", "a"}},
                               {{"role", "assistant"}, {"content", "b"}, {"reasoning_content", "r"}},
                               {{"role", "user"}, {"content", "c"}}});
  EXPECT_NE(check(m, Compat::kE2).second.find("The reasoning_content is an intermediate result"),
            std::string::npos);
  // E3 accepts (and ignores) old reasoning.
  EXPECT_EQ(check(m, Compat::kE3).first, 0);
  m["messages"] = json::array({{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}});
  EXPECT_EQ(check(m, Compat::kE2).second,
            "deepseek-reasoner does not support successive user or assistant messages "
            "(messages[0] and messages[1] in your input). You should interleave the "
            "user/assistant messages in the message sequence.");
  EXPECT_EQ(check(m, Compat::kE3).first, 0);
  m["messages"] = json::array({{{"role", "user"}, {"content", "a"}}, {{"role", "assistant"}, {"content", "b"}}});
  EXPECT_EQ(check(m, Compat::kE2).second.rfind("The last message of deepseek-reasoner must be a user message", 0), 0u);
  m["messages"][1]["prefix"] = true;
  EXPECT_EQ(check(m, Compat::kE2).first, 0);
}

TEST(SchemaChat, E3ThinkingToolLoopNeedsReasoningContent) {
  json b = with(with(base(), "model", "deepseek-reasoner"), "tools", weather_tools());
  json call = {{"id", "call_0_x"}, {"type", "function"},
               {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}};
  b["messages"] = json::array({{{"role", "user"}, {"content", "Weather?"}},
                               {{"role", "assistant"}, {"content", ""}, {"tool_calls", {call}}},
                               {{"role", "tool"}, {"tool_call_id", "call_0_x"}, {"content", "18C"}}});
  const auto e = check(b);
  EXPECT_EQ(e.first, 400);
  EXPECT_EQ(e.second.rfind("Missing `reasoning_content` field in the assistant message at message index 1", 0), 0u);
  b["messages"][1]["reasoning_content"] = "need weather";
  EXPECT_EQ(check(b).first, 0);
  // Non-thinking: no such rule.
  b["model"] = "deepseek-chat";
  b["messages"][1].erase("reasoning_content");
  EXPECT_EQ(check(b).first, 0);
}

TEST(SchemaChat, MessageShapes) {
  json b = base();
  b["messages"][0]["content"] = json::array({{{"type", "text"}, {"text", "Hel"}}, {{"type", "text"}, {"text", "lo"}}});
  ApiConfig config;
  EXPECT_EQ(parse_chat_request(b, config).messages[0].content.value(), "Hello");
  b["messages"][0]["content"] = json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}});
  auto e = check(b);
  EXPECT_EQ(e.first, 400);
  EXPECT_NE(e.second.find("ChatCompletionRequestContent"), std::string::npos);
  b["messages"][0] = {{"role", "wizard"}, {"content", "x"}};
  EXPECT_EQ(check(b).first, 400);
  b["messages"][0] = {{"role", "user"}};
  EXPECT_EQ(check(b).second, "Failed to deserialize the JSON body into the target type: "
                             "messages[0]: missing field `content`");
  b["messages"] = json::array();
  EXPECT_EQ(check(b).first, 400);
  // Assistant with tool_calls and no content: content is null.
  b["messages"] = json::array(
      {{{"role", "user"}, {"content", "x"}},
       {{"role", "assistant"},
        {"tool_calls", {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}}}}},
       {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "ok"}}});
  EXPECT_EQ(check(b).first, 0);
  // A tool message must answer an earlier call.
  b["messages"][2]["tool_call_id"] = "nope";
  EXPECT_EQ(check(b).first, 400);
}

TEST(SchemaChat, PrefixOnlyOnLastMessage) {
  json b = base();
  b["messages"] = json::array({{{"role", "user"}, {"content", "Write code"}},
                               {{"role", "assistant"}, {"content", "```python\n"}, {"prefix", true}}});
  ApiConfig config;
  EXPECT_TRUE(parse_chat_request(b, config).prefix_completion);
  b["messages"].push_back({{"role", "user"}, {"content", "more"}});
  EXPECT_EQ(check(b).first, 400);
}

TEST(SchemaChat, Logprobs) {
  json b = with(base(), "logprobs", true);
  EXPECT_EQ(check(with(b, "top_logprobs", 20)).first, 0);
  EXPECT_EQ(check(with(b, "top_logprobs", 21)).first, 400);
  EXPECT_EQ(check(with(base(), "top_logprobs", 3)).first, 400);  // needs logprobs: true
  ApiConfig config;
  EXPECT_EQ(parse_chat_request(with(b, "top_logprobs", 3), config).sampling.top_logprobs, 3);
  EXPECT_EQ(parse_chat_request(b, config).sampling.top_logprobs, 0);
}

TEST(SchemaChat, ContextOverflowMessage) {
  const ApiError e = context_overflow(65536, 62247, 4096);
  EXPECT_EQ(std::string(e.what()),
            "This model's maximum context length is 65536 tokens. However, you requested 66343 "
            "tokens (62247 in the messages, 4096 in the completion). Please reduce the length of "
            "the messages or completion.");
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(completion_budget(100, 90, std::nullopt, 4096), 10);
  EXPECT_EQ(completion_budget(100, 90, 10, 4096), 10);
  EXPECT_THROW(completion_budget(100, 90, 11, 4096), ApiError);
  EXPECT_THROW(completion_budget(100, 100, std::nullopt, 4096), ApiError);
}

}  // namespace
}  // namespace whale::server
