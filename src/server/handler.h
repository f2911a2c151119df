// The interface between the HTTP transport (http_server.cpp) and the API handlers: a handler
// gets the request body and a context, and answers with a complete reply or a streaming
// producer. Handlers throw ApiError for anything that fails before the reply is committed.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api_config.h"
#include "server/backend.h"
#include "server/metrics.h"

namespace whale::server {

struct GenerationUsage;

struct ServerContext {
  Backend& backend;
  ApiConfig api;
  Metrics& metrics;
  std::chrono::milliseconds keepalive_interval{10000};
  std::chrono::milliseconds request_timeout{1800 * 1000};
  bool log_prompts = false;
};

// Writes bytes to the client; false once the client is gone.
using WriteFn = std::function<bool(std::string_view)>;

// One request's bookkeeping: id, timing, and the one log line plus metrics it produces when it
// ends (exactly once, also when a stream is abandoned).
class RequestScope {
 public:
  RequestScope(ServerContext& ctx, std::string endpoint, std::string method);
  ~RequestScope();  // completes with status 499 (client closed) if never completed
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

  const std::string& id() const { return id_; }
  const std::string& endpoint() const { return endpoint_; }
  std::chrono::steady_clock::time_point start() const { return start_; }
  void set_model(std::string model) { model_ = std::move(model); }
  void set_prompt_log(std::string text) { prompt_log_ = std::move(text); }
  // Records usage, timings and the status, writes the log line. Later calls do nothing.
  void complete(int status, const GenerationUsage* usage = nullptr,
                const std::string& finish_reason = "", double ttft_s = -1,
                const std::vector<double>* itl = nullptr);
  bool completed() const { return completed_; }

 private:
  ServerContext& ctx_;
  std::string id_;
  std::string endpoint_;
  std::string method_;
  std::string model_;
  std::string prompt_log_;
  std::chrono::steady_clock::time_point start_;
  bool completed_ = false;
};

struct HandlerReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced by calling this until it returns false (the status is then
  // committed to `status` before the first byte).
  std::function<bool(const WriteFn& write)> producer;
};

HandlerReply handle_chat_completions(ServerContext& ctx, std::shared_ptr<RequestScope> scope,
                                     const std::string& body);
HandlerReply handle_completions(ServerContext& ctx, std::shared_ptr<RequestScope> scope,
                                const std::string& body);

}  // namespace whale::server
