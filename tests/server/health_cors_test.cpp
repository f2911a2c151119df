// /health through the server's life (spec api.md §10.1: 503 "Loading model" while loading and
// while draining, 200 {"status":"ok"} when serving) and the optional CORS mode (--cors).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "http_test_util.h"

namespace whale::server::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The exact body §10.1 prescribes.
const char* const kLoadingBody =
    R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})";

TEST(Health, ListenerAnswersWhileTheModelLoads) {
  // What `whale serve` does: bind and serve first, load the model, then become ready. The
  // fake "loader" is a thread that flips ready after a while; clients poll /health meanwhile.
  TestServer s(ServerOptions{}, [](FakeBackend& b) { b.is_ready = false; });
  std::thread loader([&] {
    std::this_thread::sleep_for(300ms);
    s.backend.is_ready = true;
  });
  auto c = s.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, kLoadingBody);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  int polls = 0;
  while (r && r->status == 503 && polls++ < 200) {
    std::this_thread::sleep_for(20ms);
    r = c.Get("/health");
  }
  loader.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  EXPECT_GT(polls, 1);  // it really was polled during the "load"
}

TEST(Health, UnavailableWhileDraining) {
  auto s = std::make_unique<TestServer>(ServerOptions{}, [](FakeBackend& b) {
    b.token_delay = 10ms;
    b.respond = [](const std::string&) { return std::string(60, 'q'); };
  });
  const int port = s->port;
  std::string body;
  std::thread streamer([&] {
    auto c = s->client();
    auto r = c.Post("/chat/completions", chat_body("x", true).dump(), "application/json");
    if (r) body = r->body;
  });
  std::this_thread::sleep_for(100ms);
  std::thread stopper([&] { s.reset(); });  // graceful shutdown: the stream may finish
  std::this_thread::sleep_for(100ms);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/health");
  ASSERT_TRUE(r) << "the listener stays open while draining";
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, kLoadingBody);
  stopper.join();
  streamer.join();
  EXPECT_EQ(sse_events(body).back(), "data: [DONE]");  // the in-flight stream still completed
}

TEST(Cors, OffByDefault) {
  TestServer s;
  auto c = s.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
  r = c.Options("/chat/completions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST(Cors, HeadersAndPreflight) {
  ServerOptions o;
  o.cors = true;
  o.api_keys = {"sk-test"};
  TestServer s(o);
  auto c = s.client();
  // Preflight: no key (browsers never send one there), 204, the asked headers allowed.
  auto r = c.Options("/v1/chat/completions",
                     {{"Origin", "http://elsewhere.example"},
                      {"Access-Control-Request-Method", "POST"},
                      {"Access-Control-Request-Headers", "authorization, content-type"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_NE(r->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), "authorization, content-type");
  // Real requests carry the header, successes and errors alike, streaming too.
  const httplib::Headers auth = {{"Authorization", "Bearer sk-test"}, {"Origin", "http://x"}};
  r = c.Post("/chat/completions", auth, chat_body().dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->get_header_value_count("Access-Control-Allow-Origin"), 1u);
  r = c.Post("/chat/completions", auth, chat_body("hi", true).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  r = c.Post("/chat/completions", chat_body().dump(), "application/json");  // no key
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  r = c.Get("/health");
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
}

}  // namespace
}  // namespace whale::server::testing
