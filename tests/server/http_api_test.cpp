// The HTTP API end to end over real sockets, against the fake backend: routes, auth, errors,
// response shapes, SSE framing, reasoning and tool-call streaming, stop strings, logprobs,
// keep-alives while queued, cancellation on disconnect, /metrics, /health, FIM, shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>

#include "http_test_util.h"

namespace whale::server::testing {
namespace {

using nlohmann::json;

httplib::Result post(httplib::Client& c, const std::string& path, const json& body,
                     const httplib::Headers& headers = {}) {
  return c.Post(path.c_str(), headers, body.dump(), "application/json");
}

void expect_error(const httplib::Result& r, int status, const std::string& message_prefix,
                  const std::string& type = "invalid_request_error") {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  const json j = json::parse(r->body);
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_EQ(j["error"]["type"], type);
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["message"].get<std::string>().rfind(message_prefix, 0), 0u)
      << j["error"]["message"];
}

TEST(HttpApi, ChatRoutesBehaveTheSame) {
  TestServer s;
  auto c = s.client();
  for (const char* path : {"/chat/completions", "/v1/chat/completions", "/beta/chat/completions",
                           "/chat/completions/", "/v1/chat/completions?x=1"}) {
    auto r = post(c, path, chat_body());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path << r->body;
    EXPECT_EQ(json::parse(r->body)["choices"][0]["message"]["content"], "Hello from the fake model.");
  }
}

TEST(HttpApi, NonStreamResponseShape) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/chat/completions", chat_body());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  const json j = json::parse(r->body);
  static const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(j["id"].get<std::string>(), kUuid)) << j["id"];
  EXPECT_EQ(r->get_header_value("x-request-id"), j["id"]);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["model"], "deepseek-chat");
  EXPECT_TRUE(std::regex_match(j["system_fingerprint"].get<std::string>(), std::regex("^fp_[0-9a-f]{10}.*")));
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_FALSE(j["choices"][0]["message"].contains("reasoning_content"));
  const json u = j["usage"];
  const std::string prompt = "user:Hi\nassistant:";
  EXPECT_EQ(u["prompt_tokens"], prompt.size());
  EXPECT_EQ(u["completion_tokens"], std::string("Hello from the fake model.").size());
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_EQ(u["prompt_tokens"], u["prompt_cache_hit_tokens"].get<int>() + u["prompt_cache_miss_tokens"].get<int>());
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], u["prompt_cache_hit_tokens"]);
  EXPECT_EQ(u["completion_tokens_details"]["reasoning_tokens"], 0);
  EXPECT_EQ(u["prompt_cache_hit_tokens"].get<int>() % 64, 0);
  // Key order as observed on the hosted API.
  std::vector<std::string> keys;
  const nlohmann::ordered_json oj = nlohmann::ordered_json::parse(r->body);
  for (auto it = oj.begin(); it != oj.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage",
                                            "system_fingerprint"}));
}

TEST(HttpApi, UnknownPathAndWrongMethod) {
  TestServer s;
  auto c = s.client();
  expect_error(c.Get("/nope"), 404, "Not Found");
  expect_error(post(c, "/v2/chat", chat_body()), 404, "Not Found");
  expect_error(c.Get("/chat/completions"), 405, "Method Not Allowed");
  expect_error(post(c, "/models", json::object()), 405, "Method Not Allowed");
  expect_error(c.Delete("/v1/models"), 405, "Method Not Allowed");
}

TEST(HttpApi, Auth) {
  ServerOptions o;
  o.api_keys = {"sk-right-key"};
  TestServer s(o);
  auto c = s.client();
  expect_error(post(c, "/chat/completions", chat_body()), 401,
               "Authentication Fails, no api key provided", "authentication_error");
  auto r = post(c, "/chat/completions", chat_body(), {{"Authorization", "Bearer sk-wrong-7f3a"}});
  expect_error(r, 401, "Authentication Fails, Your api key: ****7f3a is invalid", "authentication_error");
  r = post(c, "/chat/completions", chat_body(), {{"Authorization", "bearer sk-right-key"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_error(c.Get("/models"), 401, "Authentication Fails", "authentication_error");
  EXPECT_EQ(c.Get("/health")->status, 200);   // ops endpoints are open by default
  EXPECT_EQ(c.Get("/metrics")->status, 200);
  expect_error(c.Get("/nowhere"), 404, "Not Found");  // route is checked before auth
}

TEST(HttpApi, BadBodies) {
  ServerOptions o;
  o.max_body_bytes = 4096;
  TestServer s(o);
  auto c = s.client();
  auto r = c.Post("/chat/completions", "{\"model\": \"deepseek-chat\", ", "application/json");
  expect_error(r, 400, "Failed to parse the request body as JSON: ");
  r = c.Post("/chat/completions", "[1,2]", "application/json");
  expect_error(r, 400, "Failed to deserialize the JSON body into the target type: ");
  r = c.Post("/chat/completions", "{\"model\":\"deepseek-chat\",\"messages\":\"\xff\"}", "application/json");
  expect_error(r, 400, "Failed to parse the request body as JSON: ");
  // Valid JSON grammar, but a number no double holds (found by the request fuzzer).
  r = c.Post("/chat/completions", "{\"temperature\": 1e99999}", "application/json");
  expect_error(r, 400, "Failed to parse the request body as JSON: ");
  json big = chat_body(std::string(8000, 'x'));
  expect_error(post(c, "/chat/completions", big), 413, "Request body too large");
  expect_error(post(c, "/chat/completions", [] { json b = chat_body(); b["model"] = "gpt-4"; return b; }()),
               400, "Model Not Exist");
}

TEST(HttpApi, ContextOverflow) {
  TestServer s({}, [](FakeBackend& b) { b.n_ctx = 100; });
  auto c = s.client();
  json b = chat_body(std::string(50, 'x'));  // prompt = "user:" + 50 + "\nassistant:" = 66 tokens
  b["max_tokens"] = 40;
  expect_error(post(c, "/chat/completions", b), 400,
               "This model's maximum context length is 100 tokens. However, you requested 106 "
               "tokens (66 in the messages, 40 in the completion).");
  b = chat_body(std::string(100, 'x'));
  expect_error(post(c, "/chat/completions", b), 400,
               "This model's maximum context length is 100 tokens. However, you requested 116 "
               "tokens (116 in the messages, 0 in the completion).");
  // Without max_tokens generation stops at the context end.
  b = chat_body(std::string(50, 'x'));
  s.backend.respond = [](const std::string&) { return std::string(100, 'y'); };
  auto r = post(c, "/chat/completions", b);
  ASSERT_TRUE(r);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 34);
}

TEST(HttpApi, StreamFramingAndEquivalence) {
  TestServer s;
  auto c = s.client();
  auto plain = post(c, "/chat/completions", chat_body());
  auto r = post(c, "/chat/completions", chat_body("Hi", true));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
  bool framing_ok = false;
  const auto events = sse_events(r->body, &framing_ok);
  EXPECT_TRUE(framing_ok);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "data: [DONE]");
  const auto chunks = sse_chunks(r->body);
  EXPECT_EQ(chunks[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  std::string joined;
  int finish_count = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& ch = chunks[i];
    EXPECT_EQ(ch["object"], "chat.completion.chunk");
    EXPECT_EQ(ch["id"], chunks[0]["id"]);
    EXPECT_EQ(ch["created"], chunks[0]["created"]);
    EXPECT_EQ(ch["model"], "deepseek-chat");
    EXPECT_TRUE(ch["choices"][0]["logprobs"].is_null());
    if (!ch["choices"][0]["finish_reason"].is_null()) {
      ++finish_count;
      EXPECT_EQ(i, chunks.size() - 1);
      EXPECT_TRUE(ch.contains("usage"));
    } else {
      EXPECT_FALSE(ch.contains("usage"));  // no include_usage: no key on earlier chunks
    }
    if (ch["choices"][0]["delta"].contains("content"))
      joined += ch["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(finish_count, 1);
  EXPECT_EQ(joined, json::parse(plain->body)["choices"][0]["message"]["content"]);
  EXPECT_EQ(chunks.back()["usage"]["completion_tokens"], json::parse(plain->body)["usage"]["completion_tokens"]);
}

TEST(HttpApi, StreamIncludeUsageNullsEarlierChunks) {
  TestServer s;
  auto c = s.client();
  json b = chat_body("Hi", true);
  b["stream_options"] = {{"include_usage", true}};
  const auto chunks = sse_chunks(post(c, "/chat/completions", b)->body);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].contains("usage"));
    EXPECT_TRUE(chunks[i]["usage"].is_null());
  }
  EXPECT_TRUE(chunks.back()["usage"].is_object());
}

TEST(HttpApi, ThinkingStreamAndMessage) {
  TestServer s({}, [](FakeBackend& b) {
    b.respond = [](const std::string&) { return std::string("Greeting, reply briefly.</think>Hello!"); };
  });
  auto c = s.client();
  json b = chat_body("Hi", true);
  b["model"] = "deepseek-reasoner";
  b["temperature"] = 1.9;  // accepted, ignored
  const auto chunks = sse_chunks(post(c, "/chat/completions", b)->body);
  ASSERT_GE(chunks.size(), 3u);
  EXPECT_EQ(chunks[0]["choices"][0]["delta"],
            json({{"role", "assistant"}, {"content", nullptr}, {"reasoning_content", ""}}));
  std::string reasoning, content;
  bool content_started = false;
  for (size_t i = 1; i < chunks.size(); ++i) {
    const json& d = chunks[i]["choices"][0]["delta"];
    ASSERT_TRUE(d.contains("content") && d.contains("reasoning_content")) << d;
    if (!d["reasoning_content"].is_null()) {
      EXPECT_FALSE(content_started) << "reasoning after content";
      EXPECT_TRUE(d["content"].is_null());
      reasoning += d["reasoning_content"].get<std::string>();
    } else {
      content_started = true;
      content += d["content"].get<std::string>();
    }
  }
  EXPECT_EQ(reasoning, "Greeting, reply briefly.");
  EXPECT_EQ(content, "Hello!");
  const json u = chunks.back()["usage"];
  EXPECT_GT(u["completion_tokens_details"]["reasoning_tokens"], 0);
  EXPECT_LE(u["completion_tokens_details"]["reasoning_tokens"], u["completion_tokens"]);

  b["stream"] = false;
  const json j = json::parse(post(c, "/chat/completions", b)->body);
  EXPECT_EQ(j["choices"][0]["message"]["reasoning_content"], "Greeting, reply briefly.");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello!");
  EXPECT_EQ(j["usage"]["completion_tokens_details"]["reasoning_tokens"], 32);  // 24 + "</think>"
  // Thinking mode ignores the temperature: the engine got the thinking defaults.
  EXPECT_FLOAT_EQ(s.backend.last_request.sampling.temperature, 0.6f);
}

json tool_request(bool stream) {
  json b = chat_body("Weather in Paris?", stream);
  json params = {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}};
  json fn = {{"name", "get_weather"}, {"parameters", params}};
  b["tools"] = json::array({json{{"type", "function"}, {"function", fn}}});
  return b;
}

TEST(HttpApi, ToolCallsStreamAndMessage) {
  TestServer s({}, [](FakeBackend& b) {
    b.respond = [](const std::string&) { return std::string("<call get_weather>{\"city\": \"Paris\"}</call>"); };
  });
  auto c = s.client();
  const auto chunks = sse_chunks(post(c, "/chat/completions", tool_request(true))->body);
  ASSERT_GE(chunks.size(), 3u);
  std::string args;
  std::string id;
  bool header_seen = false;
  for (size_t i = 1; i + 1 < chunks.size(); ++i) {
    const json& d = chunks[i]["choices"][0]["delta"];
    if (!d.contains("tool_calls")) continue;
    const json& tc = d["tool_calls"][0];
    EXPECT_EQ(tc["index"], 0);
    if (!header_seen) {
      header_seen = true;
      EXPECT_EQ(tc["type"], "function");
      EXPECT_EQ(tc["function"]["name"], "get_weather");
      EXPECT_EQ(tc["function"]["arguments"], "");
      id = tc["id"];
      EXPECT_EQ(id.rfind("call_0_", 0), 0u);
    } else {
      EXPECT_FALSE(tc.contains("id"));
      args += tc["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_TRUE(header_seen);
  EXPECT_EQ(args, "{\"city\": \"Paris\"}");
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(chunks.back()["choices"][0]["delta"], json({{"content", ""}}));

  const json j = json::parse(post(c, "/chat/completions", tool_request(false))->body);
  const json& m = j["choices"][0]["message"];
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  ASSERT_EQ(m["tool_calls"].size(), 1u);
  EXPECT_EQ(m["tool_calls"][0]["index"], 0);
  EXPECT_EQ(m["tool_calls"][0]["type"], "function");
  EXPECT_EQ(m["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_TRUE(m["tool_calls"][0]["function"]["arguments"].is_string());
  EXPECT_EQ(m["content"], "");

  // tool_choice none: no parsing, the text stays content.
  json b = tool_request(false);
  b["tool_choice"] = "none";
  const json n = json::parse(post(c, "/chat/completions", b)->body);
  EXPECT_FALSE(n["choices"][0]["message"].contains("tool_calls"));
  EXPECT_EQ(n["choices"][0]["finish_reason"], "stop");
}

TEST(HttpApi, StopStringsAcrossTokens) {
  TestServer s({}, [](FakeBackend& b) {
    b.respond = [](const std::string&) { return std::string("The answer is 42. END of text"); };
  });
  auto c = s.client();
  json b = chat_body();
  b["stop"] = json::array({"END", "never"});
  json j = json::parse(post(c, "/chat/completions", b)->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "The answer is 42. ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  b["stream"] = true;
  std::string joined;
  for (const auto& ch : sse_chunks(post(c, "/chat/completions", b)->body))
    if (ch["choices"][0]["delta"].contains("content"))
      joined += ch["choices"][0]["delta"]["content"].get<std::string>();
  EXPECT_EQ(joined, "The answer is 42. ");
  // The engine was told to stop early: completion tokens do not run to the end.
  EXPECT_LT(j["usage"]["completion_tokens"].get<int>(), 29);
}

TEST(HttpApi, MaxTokensGivesLength) {
  TestServer s;
  auto c = s.client();
  json b = chat_body();
  b["max_tokens"] = 5;
  const json j = json::parse(post(c, "/chat/completions", b)->body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
}

TEST(HttpApi, Logprobs) {
  TestServer s;
  auto c = s.client();
  json b = chat_body();
  b["logprobs"] = true;
  b["top_logprobs"] = 3;
  b["max_tokens"] = 4;
  const json j = json::parse(post(c, "/chat/completions", b)->body);
  const json& lp = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 4u);
  EXPECT_EQ(lp[0]["token"], "H");
  EXPECT_EQ(lp[0]["bytes"], json::array({72}));
  EXPECT_LE(lp[0]["top_logprobs"].size(), 3u);
  EXPECT_EQ(lp[0]["top_logprobs"][0]["bytes"], json::array({72}));
  EXPECT_LE(lp[0]["logprob"].get<double>(), 0.0);
  // Streaming: content chunks carry their tokens' logprobs.
  b["stream"] = true;
  size_t n = 0;
  for (const auto& ch : sse_chunks(post(c, "/chat/completions", b)->body))
    if (ch["choices"][0]["logprobs"].is_object()) n += ch["choices"][0]["logprobs"]["content"].size();
  EXPECT_EQ(n, 4u);
}

TEST(HttpApi, QueueFullIs429) {
  TestServer s({}, [](FakeBackend& b) { b.set_max_queue(0); });
  auto c = s.client();
  expect_error(post(c, "/chat/completions", chat_body()), 429, "Too many requests", "rate_limit_error");
}

TEST(HttpApi, KeepAliveWhileQueued) {
  ServerOptions o;
  o.keepalive_interval = std::chrono::milliseconds(100);
  TestServer s(o, [](FakeBackend& b) {
    b.set_slots(1);
    b.token_delay = std::chrono::milliseconds(25);
    b.respond = [](const std::string&) { return std::string(24, 'z'); };  // ~600 ms
  });
  std::string first_body;
  std::thread first([&] {
    auto c = s.client();
    first_body = post(c, "/chat/completions", chat_body("one", true))->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto c = s.client();
  const auto second = post(c, "/chat/completions", chat_body("two", true));
  std::string plain_body;
  std::thread third([&] {
    auto c3 = s.client();
    plain_body = post(c3, "/chat/completions", chat_body("three", false))->body;
  });
  first.join();
  third.join();
  const auto events = sse_events(second->body);
  EXPECT_NE(std::find(events.begin(), events.end(), ": keep-alive"), events.end());
  EXPECT_EQ(events.back(), "data: [DONE]");
  // Non-streaming: blank lines first, then the JSON body; JSON parsers skip the whitespace.
  EXPECT_EQ(plain_body.front(), '\n');
  EXPECT_EQ(json::parse(plain_body)["choices"][0]["message"]["content"], std::string(24, 'z'));
}

TEST(HttpApi, DisconnectCancelsGeneration) {
  TestServer s({}, [](FakeBackend& b) {
    b.token_delay = std::chrono::milliseconds(20);
    b.respond = [](const std::string&) { return std::string(500, 'z'); };  // ~10 s
  });
  for (int i = 0; i < 3; ++i) {
    auto c = s.client();
    int received = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = "/chat/completions";
    req.body = chat_body("Hi", true).dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++received < 3; };
    c.send(req);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (s.backend.stats().requests_active > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(s.backend.stats().requests_active, 0);
  // The metrics say so too, and the cancelled requests were logged with their tokens.
  const std::string m = s.client().Get("/metrics")->body;
  EXPECT_NE(m.find("whale_requests_running 0\n"), std::string::npos);
  EXPECT_NE(m.find("status=\"499\"} 3"), std::string::npos) << m;
}

TEST(HttpApi, HealthAndModels) {
  TestServer s;
  auto c = s.client();
  auto r = c.Get("/health");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  s.backend.is_ready = false;
  r = c.Get("/health");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["error"]["message"], "Loading model");
  expect_error(post(c, "/chat/completions", chat_body()), 503, "Loading model", "unavailable_error");
  s.backend.is_ready = true;
  for (const char* path : {"/models", "/v1/models", "/models/"}) {
    const json j = json::parse(c.Get(path)->body);
    EXPECT_EQ(j["object"], "list");
    ASSERT_EQ(j["data"].size(), 2u);
    EXPECT_EQ(j["data"][0], json({{"id", "deepseek-chat"}, {"object", "model"}, {"owned_by", "deepseek"}}));
    EXPECT_EQ(j["data"][1]["id"], "deepseek-reasoner");
  }
  EXPECT_EQ(json::parse(c.Get("/models/deepseek-reasoner")->body)["id"], "deepseek-reasoner");
  expect_error(c.Get("/models/nope"), 404, "Model Not Exist");
  expect_error(c.Get("/user/balance"), 404, "Not Found");
}

TEST(HttpApi, MetricsCountUsage) {
  TestServer s;
  auto c = s.client();
  const json j = json::parse(post(c, "/chat/completions", chat_body())->body);
  const std::string m = c.Get("/metrics")->body;
  EXPECT_EQ(c.Get("/metrics")->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(m.find("whale_prompt_tokens_total " + std::to_string(j["usage"]["prompt_tokens"].get<int>()) + "\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("whale_completion_tokens_total " +
                   std::to_string(j["usage"]["completion_tokens"].get<int>()) + "\n"),
            std::string::npos);
  EXPECT_NE(m.find("whale_requests_total{endpoint=\"/chat/completions\",model=\"deepseek-chat\",status=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(m.find("whale_time_to_first_token_seconds_count 1\n"), std::string::npos);
}

TEST(HttpApi, FimCompletions) {
  TestServer s({}, [](FakeBackend& b) {
    b.respond = [](const std::string&) { return std::string("    return a + b\n"); };
  });
  auto c = s.client();
  json b = {{"model", "deepseek-chat"}, {"prompt", "def add(a, b):\n"}, {"suffix", "\nprint(add(1, 2))"},
            {"max_tokens", 64}};
  for (const char* path : {"/beta/completions", "/completions", "/v1/completions"}) {
    auto r = post(c, path, b);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["choices"][0]["text"], "    return a + b\n");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
    EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());
  }
  EXPECT_EQ(s.backend.last_prompt_text, "<fim>def add(a, b):\n<hole>\nprint(add(1, 2))<end>");
  json bad = b;
  bad["max_tokens"] = 4097;
  expect_error(post(c, "/beta/completions", bad), 400,
               "Invalid max_tokens value, the valid range of max_tokens is [1, 4096]");
  bad = b;
  bad["model"] = "deepseek-reasoner";
  expect_error(post(c, "/beta/completions", bad), 400, "Model Not Exist");
  // echo, logprobs and streaming.
  json e = b;
  e["echo"] = true;
  e["logprobs"] = 2;
  const json j = json::parse(post(c, "/beta/completions", e)->body);
  EXPECT_EQ(j["choices"][0]["text"], "def add(a, b):\n    return a + b\n");
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"].size(), 17u);
  EXPECT_LE(j["choices"][0]["logprobs"]["top_logprobs"][0].size(), 3u);
  b["stream"] = true;
  std::string text;
  const auto chunks = sse_chunks(post(c, "/beta/completions", b)->body);
  for (const auto& ch : chunks) {
    EXPECT_EQ(ch["object"], "text_completion");
    text += ch["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "    return a + b\n");
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
}

TEST(HttpApi, PrefixCompletionReturnsOnlyTheContinuation) {
  TestServer s({}, [](FakeBackend& b) {
    b.respond = [](const std::string&) { return std::string("print('hi')\n```"); };
  });
  auto c = s.client();
  json b = chat_body("Write hello world");
  b["messages"].push_back({{"role", "assistant"}, {"content", "```python\n"}, {"prefix", true}});
  b["stop"] = "```";
  const json j = json::parse(post(c, "/beta/chat/completions", b)->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "print('hi')\n");
  // The prompt ends with the prefix itself, no new assistant turn.
  EXPECT_EQ(s.backend.last_prompt_text, "user:Write hello world\nassistant:```python\n\n");
}

TEST(HttpApi, GracefulShutdownFinishesInFlightStream) {
  auto s = std::make_unique<TestServer>(ServerOptions{}, [](FakeBackend& b) {
    b.token_delay = std::chrono::milliseconds(10);
    b.respond = [](const std::string&) { return std::string(40, 'q'); };
  });
  std::string body;
  std::thread t([&] {
    auto c = s->client();
    body = post(c, "/chat/completions", chat_body("x", true))->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.reset();  // shutdown with a 2 s deadline, then joins run()
  t.join();
  const auto chunks = sse_chunks(body);
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(sse_events(body).back(), "data: [DONE]");
}

}  // namespace
}  // namespace whale::server::testing
