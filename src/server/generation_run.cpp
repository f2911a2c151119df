#include "server/generation_run.h"

#include <ctime>

#include "server/errors.h"
#include "util/error.h"

namespace whale::server {

using std::chrono::milliseconds;

GenerationRun::GenerationRun(ServerContext& c, std::shared_ptr<RequestScope> s) : ctx(c), scope(std::move(s)) {}

void GenerationRun::complete(int status) {
  const GenerationUsage usage = gen->usage();
  scope->complete(status, &usage, gen->finish_reason(), gen->time_to_first_token(), &gen->inter_token_latencies());
}

int32_t context_size(const ServerContext& ctx, const BackendInfo& info) {
  return std::min(info.n_ctx, ctx.api.n_ctx > 0 ? ctx.api.n_ctx : info.n_ctx);
}

std::shared_ptr<engine::Stream> submit_generation(Backend& backend, engine::GenerateRequest g) {
  try {
    return backend.submit(std::move(g));
  } catch (const engine::QueueFull& e) {
    throw rate_limited(std::string("Too many requests are waiting; retry shortly (") + e.what() + ")");
  } catch (const whale::Error& e) {
    throw bad_request(e.what());
  }
}

void start_run(GenerationRun& run, const std::string& model, std::shared_ptr<engine::Stream> stream,
               std::unique_ptr<OutputParser> parser, const GenerationOptions& options) {
  Backend& backend = run.ctx.backend;
  run.gen = std::make_unique<Generation>(backend, std::move(stream), std::move(parser), options);
  run.meta = {run.scope->id(), static_cast<int64_t>(std::time(nullptr)), model, backend.info().system_fingerprint};
  run.deadline = run.scope->start() + run.ctx.request_timeout;
}

HandlerReply start_reply(const RequestScope& scope, bool stream) {
  HandlerReply reply;
  reply.headers.push_back({"x-request-id", scope.id()});
  if (stream) {
    reply.content_type = "text/event-stream; charset=utf-8";
    reply.headers.push_back({"Cache-Control", "no-cache"});
  }
  return reply;
}

HandlerReply buffered_reply(std::shared_ptr<GenerationRun> run, HandlerReply reply) {
  using Clock = GenerationRun::Clock;
  const auto commit_at = Clock::now() + run->ctx.keepalive_interval;
  bool finished = false;
  while (!finished && Clock::now() < commit_at && !run->expired()) {
    Delta d;
    finished = run->gen->poll(milliseconds(100), d);
    run->add(d);
  }
  if (finished) {
    if (!run->gen->error().empty() && run->gen->usage().completion_tokens == 0) {
      run->complete(500);
      throw internal_error(run->gen->error());
    }
    reply.body = run->body();
    run->complete(200);
    return reply;
  }
  if (run->expired()) {
    run->gen->cancel();
    run->complete(504);
    throw internal_error("request timed out");
  }
  auto last_write = std::make_shared<Clock::time_point>(Clock::now());
  reply.producer = [run, last_write](const WriteFn& write) {
    Delta d;
    const bool done = run->gen->poll(milliseconds(100), d);
    run->add(d);
    if (done) {
      write(run->body());
      run->complete(200);
      return false;
    }
    if (run->expired()) {
      run->gen->cancel();
      write(error_body(internal_error("request timed out")));
      run->complete(504);
      return false;
    }
    if (Clock::now() - *last_write >= run->ctx.keepalive_interval) {
      if (!write("\n")) {
        run->gen->cancel();
        run->complete(499);
        return false;
      }
      *last_write = Clock::now();
    }
    return true;
  };
  return reply;
}

}  // namespace whale::server
