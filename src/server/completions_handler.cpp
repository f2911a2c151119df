// POST /completions, /v1/completions, /beta/completions: FIM and plain text completion
// (spec api.md §6). Streams text_completion chunks framed as in §3.4.
#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/handler.h"
#include "server/request_body.h"
#include "server/response_json.h"
#include "server/schema_chat.h"
#include "server/schema_completion.h"
#include "server/sse.h"
#include "util/error.h"

namespace whale::server {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct CompletionRun {
  ServerContext& ctx;
  std::shared_ptr<RequestScope> scope;
  CompletionRequest request;
  ResponseMeta meta;
  std::unique_ptr<Generation> gen;
  std::string text;
  std::vector<LogprobEntry> logprobs;
  Clock::time_point deadline;
  bool started = false;
  Clock::time_point last_write = Clock::now();

  CompletionRun(ServerContext& c, std::shared_ptr<RequestScope> s) : ctx(c), scope(std::move(s)) {}

  void complete(int status) {
    const GenerationUsage usage = gen->usage();
    scope->complete(status, &usage, gen->finish_reason(), gen->time_to_first_token(),
                    &gen->inter_token_latencies());
  }
  ojson logprobs_json(const std::vector<LogprobEntry>& entries, size_t offset) const {
    return request.logprobs >= 0 ? text_logprobs_json(entries, request.logprobs, offset)
                                 : ojson(nullptr);
  }
  std::string body() const {
    const std::string full = request.echo ? request.prompt + text : text;
    return text_completion_body(meta, full,
                                logprobs_json(logprobs, request.echo ? request.prompt.size() : 0),
                                gen->finish_reason(), gen->usage());
  }
};

bool stream_step(CompletionRun& r, const WriteFn& write) {
  auto send = [&](const std::string& bytes) {
    if (!write(bytes)) {
      r.gen->cancel();
      r.complete(499);
      return false;
    }
    r.last_write = Clock::now();
    return true;
  };
  auto chunk = [&](const std::string& text, const ojson& lp, const std::string& finish,
                   const std::optional<ojson>& usage) {
    return sse_event(text_chunk(r.meta, text, lp, finish, usage, r.request.include_usage));
  };
  if (!r.started) {
    r.started = true;
    if (r.request.echo && !r.request.prompt.empty() &&
        !send(chunk(r.request.prompt, ojson(nullptr), "", std::nullopt)))
      return false;
  }
  Delta d;
  const bool finished = r.gen->poll(milliseconds(100), d);
  if (!d.content.empty()) {
    const size_t offset = (r.request.echo ? r.request.prompt.size() : 0) + r.text.size();
    r.text += d.content;
    if (!send(chunk(d.content, r.logprobs_json(d.logprobs, offset), "", std::nullopt))) return false;
  }
  if (finished) {
    if (!r.gen->error().empty() && r.gen->usage().completion_tokens == 0) {
      send(sse_event(error_body(internal_error(r.gen->error()))));
      send(sse_done());
      r.complete(500);
      return false;
    }
    if (send(chunk("", ojson(nullptr), r.gen->finish_reason(), usage_json(r.gen->usage(), false))))
      send(sse_done());
    r.complete(200);
    return false;
  }
  if (Clock::now() >= r.deadline) {
    r.gen->cancel();
    send(sse_event(error_body(internal_error("request timed out"))));
    send(sse_done());
    r.complete(504);
    return false;
  }
  if (Clock::now() - r.last_write >= r.ctx.keepalive_interval) return send(sse_keepalive());
  return true;
}

}  // namespace

HandlerReply handle_completions(ServerContext& ctx, std::shared_ptr<RequestScope> scope,
                                const std::string& body) {
  const nlohmann::json json = parse_request_body(body);
  auto run = std::make_shared<CompletionRun>(ctx, scope);
  CompletionRequest& req = run->request;
  req = parse_completion_request(json, ctx.api);
  scope->set_model(req.model);
  if (ctx.log_prompts) scope->set_prompt_log(nlohmann::json(req.prompt).dump(-1, ' ', false,
                                              nlohmann::json::error_handler_t::replace));
  Backend& backend = ctx.backend;
  const BackendInfo info = backend.info();
  std::vector<int32_t> prompt = backend.encode_fim(req.prompt, req.suffix);
  const int32_t n_ctx = std::min(info.n_ctx, ctx.api.n_ctx > 0 ? ctx.api.n_ctx : info.n_ctx);
  const int32_t budget = completion_budget(
      n_ctx, static_cast<int64_t>(prompt.size()),
      req.max_tokens_given ? std::optional<int32_t>(req.max_tokens) : std::nullopt,
      req.max_tokens);

  engine::GenerateRequest g;
  g.prompt = std::move(prompt);
  g.sampling = req.sampling;
  g.max_tokens = budget;
  g.request_id = scope->id();
  std::shared_ptr<engine::Stream> stream;
  try {
    stream = backend.submit(std::move(g));
  } catch (const engine::QueueFull& e) {
    throw rate_limited(std::string("Too many requests are waiting; retry shortly (") + e.what() + ")");
  } catch (const whale::Error& e) {
    throw bad_request(e.what());
  }
  GenerationOptions options;
  options.stop = req.stop;
  options.logprobs = req.logprobs >= 0;
  options.start = scope->start();
  run->gen = std::make_unique<Generation>(backend, stream, nullptr, options);
  run->meta = {scope->id(), static_cast<int64_t>(std::time(nullptr)), req.model,
               info.system_fingerprint};
  run->deadline = scope->start() + ctx.request_timeout;

  HandlerReply reply;
  reply.headers.push_back({"x-request-id", scope->id()});
  if (req.stream) {
    reply.content_type = "text/event-stream; charset=utf-8";
    reply.headers.push_back({"Cache-Control", "no-cache"});
    reply.producer = [run](const WriteFn& write) { return stream_step(*run, write); };
    return reply;
  }
  const auto commit_at = Clock::now() + ctx.keepalive_interval;
  bool finished = false;
  while (!finished && Clock::now() < commit_at) {
    Delta d;
    finished = run->gen->poll(milliseconds(100), d);
    run->text += d.content;
    run->logprobs.insert(run->logprobs.end(), d.logprobs.begin(), d.logprobs.end());
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
  reply.producer = [run](const WriteFn& write) {
    Delta d;
    const bool done = run->gen->poll(milliseconds(100), d);
    run->text += d.content;
    run->logprobs.insert(run->logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    if (done) {
      write(run->body());
      run->complete(200);
      return false;
    }
    if (Clock::now() >= run->deadline) {
      run->gen->cancel();
      write(error_body(internal_error("request timed out")));
      run->complete(504);
      return false;
    }
    if (Clock::now() - run->last_write >= run->ctx.keepalive_interval) {
      if (!write("\n")) {
        run->gen->cancel();
        run->complete(499);
        return false;
      }
      run->last_write = Clock::now();
    }
    return true;
  };
  return reply;
}

}  // namespace whale::server
