// What the two generating handlers (chat, completions) share once their request is parsed:
// the run state that outlives the handler call, submitting to the backend with the spec's
// errors, the reply headers, and the non-streaming answer with its keep-alive (spec api.md
// §8.2, §9.5). Each handler adds only its own body format and SSE chunks.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "server/generation.h"
#include "server/handler.h"
#include "server/response_json.h"

namespace whale::server {

class GenerationRun {
 public:
  using Clock = std::chrono::steady_clock;
  GenerationRun(ServerContext& c, std::shared_ptr<RequestScope> s);
  virtual ~GenerationRun() = default;

  // Buffers one delta for the non-streaming body, and renders that body.
  virtual void add(const Delta& d) = 0;
  virtual std::string body() const = 0;

  // Logs and counts the request once, with the generation's usage and timings.
  void complete(int status);
  bool expired() const { return Clock::now() >= deadline; }

  ServerContext& ctx;
  std::shared_ptr<RequestScope> scope;
  ResponseMeta meta;
  std::unique_ptr<Generation> gen;
  Clock::time_point deadline;
};

// The context a request may use: the model's, or less when the server is configured so.
int32_t context_size(const ServerContext& ctx, const BackendInfo& info);

// Submits to the backend: a full queue is 429 and a request the engine refuses is 400.
std::shared_ptr<engine::Stream> submit_generation(Backend& backend, engine::GenerateRequest g);

// Starts the run's generation and metadata (id, creation time, model, fingerprint, deadline).
void start_run(GenerationRun& run, const std::string& model, std::shared_ptr<engine::Stream> stream,
               std::unique_ptr<OutputParser> parser, const GenerationOptions& options);

// A reply with the request id header; an SSE reply when `stream`.
HandlerReply start_reply(const RequestScope& scope, bool stream);

// The non-streaming answer: the whole body when the result is ready within one keep-alive
// interval; otherwise 200 is committed and a blank line goes out every keep-alive interval
// until it is (a timeout then ends the body with an error object). Failures before the commit
// throw ApiError (500 for a generation error without output, 504-logged timeout).
HandlerReply buffered_reply(std::shared_ptr<GenerationRun> run, HandlerReply reply);

}  // namespace whale::server
