// An in-process server on a free 127.0.0.1 port with the fake backend, plus SSE helpers.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_backend.h"
#include "server/http_server.h"

namespace whale::server::testing {

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}, std::function<void(FakeBackend&)> setup = {}) {
    if (setup) setup(backend);
    options.host = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<HttpServer>(backend, std::move(options));
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }
  ~TestServer() {
    server->shutdown(std::chrono::milliseconds(2000));
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }

  FakeBackend backend;
  std::unique_ptr<HttpServer> server;
  int port = 0;
  std::thread thread;
};

// The events of an SSE body: each "data: " payload, and ": keep-alive" comments as such.
inline std::vector<std::string> sse_events(const std::string& body, bool* framing_ok = nullptr) {
  std::vector<std::string> out;
  size_t pos = 0;
  bool ok = true;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ok = false;
      break;
    }
    out.push_back(body.substr(pos, end - pos));
    pos = end + 2;
  }
  if (framing_ok) *framing_ok = ok;
  return out;
}

// The JSON payloads of the data events, excluding [DONE].
inline std::vector<nlohmann::json> sse_chunks(const std::string& body) {
  std::vector<nlohmann::json> out;
  for (const auto& e : sse_events(body))
    if (e.rfind("data: ", 0) == 0 && e != "data: [DONE]") out.push_back(nlohmann::json::parse(e.substr(6)));
  return out;
}

inline nlohmann::json chat_body(const std::string& content = "Hi", bool stream = false) {
  return {{"model", "deepseek-chat"},
          {"messages", nlohmann::json::array({{{"role", "user"}, {"content", content}}})},
          {"stream", stream}};
}

}  // namespace whale::server::testing
