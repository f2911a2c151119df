// Stop matching across token boundaries, SSE framing, API-key checks, Prometheus format.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "server/auth.h"
#include "server/errors.h"
#include "server/metrics.h"
#include "server/sse.h"
#include "server/stop_matcher.h"

namespace whale::server {
namespace {

std::string run_stop(std::vector<std::string> stops, const std::vector<std::string>& pieces,
                     bool* matched = nullptr) {
  StopMatcher m(std::move(stops));
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  out += m.flush();
  if (matched) *matched = m.matched();
  return out;
}

TEST(StopMatcher, NoStopsPassesThrough) {
  bool matched = true;
  EXPECT_EQ(run_stop({}, {"a", "b"}, &matched), "ab");
  EXPECT_FALSE(matched);
}

TEST(StopMatcher, StopInsideOnePiece) {
  bool matched = false;
  EXPECT_EQ(run_stop({"END"}, {"hello END world"}, &matched), "hello ");
  EXPECT_TRUE(matched);
}

TEST(StopMatcher, StopSplitAcrossPieces) {
  bool matched = false;
  EXPECT_EQ(run_stop({"</end>"}, {"abc<", "/e", "nd", ">tail"}, &matched), "abc");
  EXPECT_TRUE(matched);
}

TEST(StopMatcher, HoldsBackOnlyWhatCouldStartAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc S"), "abc ");  // "S" might begin STOP
  EXPECT_EQ(m.push("T"), "");          // "ST" still might
  EXPECT_EQ(m.push("x"), "STx");       // not a stop after all: released
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, PartialStopAtEndIsFlushed) {
  bool matched = true;
  EXPECT_EQ(run_stop({"STOP"}, {"abc", "ST"}, &matched), "abcST");
  EXPECT_FALSE(matched);
}

TEST(StopMatcher, EarliestOfSeveralStops) {
  EXPECT_EQ(run_stop({"world", "lo w"}, {"hello world"}), "hel");
  EXPECT_EQ(run_stop({"", "x"}, {"abxcd"}), "ab");  // empty stop ignored
}

TEST(StopMatcher, NothingAfterMatch) {
  StopMatcher m({"."});
  EXPECT_EQ(m.push("a.b"), "a");
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, MultibyteStop) {
  EXPECT_EQ(run_stop({"\xE3\x80\x82"}, {"\xE4\xBD\xA0\xE5\xA5\xBD", "\xE3\x80\x82", "x"}),
            "\xE4\xBD\xA0\xE5\xA5\xBD");
}

TEST(Sse, Framing) {
  EXPECT_EQ(sse_event("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(sse_keepalive(), ": keep-alive\n\n");
}

TEST(Auth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Auth, MaskKey) {
  EXPECT_EQ(mask_key("sk-1234567f3a"), "****7f3a");
  EXPECT_EQ(mask_key("ab"), "****ab");
}

std::pair<int, std::string> auth_result(const ApiKeys& keys, const std::string& header) {
  try {
    keys.check(header);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.type(), "authentication_error");
    EXPECT_EQ(e.code(), "invalid_request_error");
    return {e.status(), e.what()};
  }
  return {0, ""};
}

TEST(Auth, Checks) {
  const ApiKeys off({});
  EXPECT_EQ(auth_result(off, "").first, 0);
  const ApiKeys keys({"sk-good", "sk-other"});
  EXPECT_EQ(auth_result(keys, "Bearer sk-good").first, 0);
  EXPECT_EQ(auth_result(keys, "bearer sk-other").first, 0);
  EXPECT_EQ(auth_result(keys, "BEARER sk-good").first, 0);
  EXPECT_EQ(auth_result(keys, "Bearer sk-bad7f3a"),
            std::make_pair(401, std::string("Authentication Fails, Your api key: ****7f3a is invalid")));
  EXPECT_EQ(auth_result(keys, ""),
            std::make_pair(401, std::string("Authentication Fails, no api key provided")));
  EXPECT_EQ(auth_result(keys, "Bearer ").first, 401);
}

TEST(Errors, BodyShape) {
  const std::string body = error_body(bad_request("Model Not Exist"));
  EXPECT_EQ(body, R"({"error":{"message":"Model Not Exist","type":"invalid_request_error","param":null,"code":"invalid_request_error"}})");
  EXPECT_EQ(rate_limited("x").status(), 429);
  EXPECT_EQ(unavailable("x").status(), 503);
  EXPECT_EQ(internal_error("x").type(), "server_error");
  EXPECT_EQ(deserialize_error("x", true).status(), 422);
  EXPECT_EQ(deserialize_error("x", false).status(), 400);
}

// Every line of the exposition is a comment or `name{labels} value`.
void expect_prometheus_text(const std::string& text) {
  static const std::regex kSample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+$)");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, kSample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
}

TEST(Metrics, FormatAndCounters) {
  Metrics m;
  m.count_request("/chat/completions", "deepseek-chat", 200);
  m.count_request("/chat/completions", "deepseek-chat", 200);
  m.count_request("/chat/completions", "we\"ird", 400);
  m.add_usage({10, 0, 5, 2});
  m.add_usage({3, 64, 1, 0});
  m.observe_time_to_first_token(0.2);
  m.observe_request_duration(1.5);
  m.observe_inter_token_latency(0.01);
  engine::EngineStats s;
  s.requests_active = 2;
  s.requests_queued = 1;
  s.kv_blocks_total = 10;
  s.kv_blocks_used = 5;
  const std::string text = m.render(s);
  expect_prometheus_text(text);
  auto has = [&](const std::string& line) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\n" << text;
  };
  has("whale_requests_total{endpoint=\"/chat/completions\",model=\"deepseek-chat\",status=\"200\"} 2");
  has("whale_requests_total{endpoint=\"/chat/completions\",model=\"we\\\"ird\",status=\"400\"} 1");
  has("whale_prompt_tokens_total 13");
  has("whale_prompt_cache_hit_tokens_total 64");
  has("whale_completion_tokens_total 6");
  has("whale_reasoning_tokens_total 2");
  has("whale_requests_running 2");
  has("whale_requests_queued 1");
  has("whale_kv_cache_usage_ratio 0.5");
  has("whale_kv_cache_tokens 320");
  has("# TYPE whale_time_to_first_token_seconds histogram");
  has("whale_time_to_first_token_seconds_bucket{le=\"0.25\"} 1");
  has("whale_time_to_first_token_seconds_bucket{le=\"0.1\"} 0");
  has("whale_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1");
  has("whale_time_to_first_token_seconds_count 1");
  has("whale_request_duration_seconds_count 1");
  has("whale_inter_token_latency_seconds_count 1");
}

}  // namespace
}  // namespace whale::server
