// POST /completions, /v1/completions, /beta/completions: FIM and plain text completion
// (spec api.md §6). Streams text_completion chunks framed as in §3.4.
#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/generation_run.h"
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

struct CompletionRun final : GenerationRun {
  using GenerationRun::GenerationRun;
  CompletionRequest request;
  std::string text;
  std::vector<LogprobEntry> logprobs;
  bool started = false;
  Clock::time_point last_write = Clock::now();

  ojson logprobs_json(const std::vector<LogprobEntry>& entries, size_t offset) const {
    return request.logprobs >= 0 ? text_logprobs_json(entries, request.logprobs, offset)
                                 : ojson(nullptr);
  }
  void add(const Delta& d) override {
    text += d.content;
    logprobs.insert(logprobs.end(), d.logprobs.begin(), d.logprobs.end());
  }
  std::string body() const override {
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
  if (r.expired()) {
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
  std::vector<int32_t> prompt = backend.encode_fim(req.prompt, req.suffix);
  const int32_t budget = completion_budget(
      context_size(ctx, backend.info()), static_cast<int64_t>(prompt.size()),
      req.max_tokens_given ? std::optional<int32_t>(req.max_tokens) : std::nullopt,
      req.max_tokens);

  engine::GenerateRequest g;
  g.prompt = std::move(prompt);
  g.sampling = req.sampling;
  g.max_tokens = budget;
  g.request_id = scope->id();
  auto stream = submit_generation(backend, std::move(g));
  GenerationOptions options;
  options.stop = req.stop;
  options.logprobs = req.logprobs >= 0;
  options.start = scope->start();
  start_run(*run, req.model, std::move(stream), nullptr, options);

  HandlerReply reply = start_reply(*scope, req.stream);
  if (!req.stream) return buffered_reply(run, std::move(reply));
  reply.producer = [run](const WriteFn& write) { return stream_step(*run, write); };
  return reply;
}

}  // namespace whale::server
