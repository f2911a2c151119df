// The HTTP server: routes (spec api.md §1.1), auth, body limits, the ops endpoints (/health,
// /metrics, /models), the embedded chat page, and graceful shutdown. Request handling proper is
// in chat_handler.cpp and completions_handler.cpp.
//
// Thread safety: bind() and run() from one thread; shutdown() from any other thread (a signal
// watcher); run() returns once shutdown() has drained the server.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "server/api_config.h"
#include "server/backend.h"
#include "server/metrics.h"

namespace whale::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port
  std::vector<std::string> api_keys;     // empty: auth off
  bool auth_on_ops = false;              // /health and /metrics need a key too
  ApiConfig api;
  bool log_prompts = false;
  bool balance_stub = false;             // GET /user/balance (§9.4)
  size_t max_body_bytes = 16u << 20;     // larger bodies get 413
  std::chrono::milliseconds keepalive_interval{10000};
  std::chrono::milliseconds request_timeout{1800 * 1000};
  int http_threads = 64;                 // connections served at once
  // Cross-origin access (a chat page served from elsewhere): every response gets
  // Access-Control-Allow-Origin: *, and OPTIONS preflights are answered 204 without auth.
  bool cors = false;
};

class HttpServer {
 public:
  // The backend must outlive the server.
  HttpServer(Backend& backend, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; returns the port (useful with port 0). Throws whale::Error
  // naming host and port when it cannot bind.
  int bind();
  // Serves until shutdown() completes. Call after bind().
  void run();
  // Graceful stop: new API requests get 503, running ones may finish until `deadline` (then the
  // engine cancels them), then the listener closes and run() returns. Idempotent.
  void shutdown(std::chrono::milliseconds deadline);

  int port() const;
  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Content type for a web asset path by its extension.
std::string content_type_for(const std::string& path);

}  // namespace whale::server
