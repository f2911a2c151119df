// The fields /chat/completions and /completions share (server/schema_sampling.h): both endpoints
// must reject the same out-of-range values with the same 400 message and map accepted ones to
// the same sampling parameters (spec api.md §2.1, §2.5, §6).
#include <gtest/gtest.h>

#include "server/errors.h"
#include "server/schema_chat.h"
#include "server/schema_completion.h"

namespace whale::server {
namespace {

using nlohmann::json;

json chat_body() {
  return json{{"model", "deepseek-chat"}, {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})}};
}
json completion_body() { return json{{"model", "deepseek-chat"}, {"prompt", "def f():"}}; }

std::string error_of(bool chat, const json& body) {
  const ApiConfig config;
  try {
    if (chat) parse_chat_request(body, config);
    else parse_completion_request(body, config);
  } catch (const ApiError& e) {
    return std::to_string(e.status()) + " " + e.what();
  }
  return "ok";
}

TEST(SharedFields, SameRangeErrorsOnBothEndpoints) {
  const std::vector<std::pair<std::string, json>> bad = {
      {"temperature", 2.5},      {"temperature", -0.1},     {"top_p", 0},          {"top_p", 1.5},
      {"frequency_penalty", 3},  {"presence_penalty", -2.5}, {"top_k", 2000000},   {"min_p", 1.5},
      {"stop", json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"})}};
  for (const auto& [key, value] : bad) {
    json c = chat_body(), p = completion_body();
    c[key] = value;
    p[key] = value;
    const std::string from_chat = error_of(true, c);
    EXPECT_EQ(from_chat.rfind("400 Invalid " + key + " value", 0), 0u) << key << "=" << value << ": " << from_chat;
    EXPECT_EQ(error_of(false, p), from_chat) << key << "=" << value;
  }
}

TEST(SharedFields, SameTypeErrorsOnBothEndpoints) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"temperature", "hot"}, {"seed", -1.5}, {"top_k", 1.5}, {"stop", 3}, {"stream_options", 1}}) {
    json c = chat_body(), p = completion_body();
    c[key] = value;
    p[key] = value;
    const std::string from_chat = error_of(true, c);
    EXPECT_EQ(from_chat.rfind("400 ", 0), 0u) << key << ": " << from_chat;
    EXPECT_NE(from_chat.find(key), std::string::npos) << from_chat;
    EXPECT_EQ(error_of(false, p), from_chat) << key;
  }
}

TEST(SharedFields, SameSamplingOnBothEndpoints) {
  json c = chat_body(), p = completion_body();
  for (json* b : {&c, &p}) {
    (*b)["temperature"] = 1.5;
    (*b)["top_p"] = 0.9;
    (*b)["frequency_penalty"] = 0.5;
    (*b)["presence_penalty"] = -0.25;
    (*b)["top_k"] = 40;
    (*b)["min_p"] = 0.05;
    (*b)["seed"] = 7;
    (*b)["stop"] = "END";
    (*b)["stream"] = true;
    (*b)["stream_options"] = {{"include_usage", true}};
  }
  const ChatRequest cr = parse_chat_request(c, ApiConfig{});
  const CompletionRequest pr = parse_completion_request(p, ApiConfig{});
  const auto& a = cr.sampling;
  const auto& b = pr.sampling;
  EXPECT_NEAR(a.temperature, 0.8f, 1e-6);  // §2.5: t > 1 maps to t - 0.7
  EXPECT_EQ(a.temperature, b.temperature);
  EXPECT_EQ(a.top_p, b.top_p);
  EXPECT_EQ(a.frequency_penalty, 0.5f);
  EXPECT_EQ(a.frequency_penalty, b.frequency_penalty);
  EXPECT_EQ(a.presence_penalty, b.presence_penalty);
  EXPECT_EQ(a.top_k, 40);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.min_p, b.min_p);
  EXPECT_EQ(a.seed, std::optional<uint64_t>(7));
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(cr.stop, pr.stop);
  EXPECT_TRUE(cr.stream && pr.stream && cr.include_usage && pr.include_usage);
}

}  // namespace
}  // namespace whale::server
