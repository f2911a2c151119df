// POST /chat/completions: validate, render and tokenize, check the context, submit, then answer
// as one JSON body or as an SSE stream (spec api.md §2-§4, §7).
#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/generation_run.h"
#include "server/handler.h"
#include "server/request_body.h"
#include "server/response_json.h"
#include "server/schema_chat.h"
#include "server/sse.h"
#include "util/error.h"

namespace whale::server {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The state of one admitted chat request, shared by the handler and its producer.
struct ChatRun final : GenerationRun {
  using GenerationRun::GenerationRun;
  ChatRequest request;
  MessageAccumulator message;

  void add(const Delta& d) override { message.add(d); }
  std::string body() const override {
    return chat_completion_body(meta, message, request.thinking, request.logprobs,
                                request.top_logprobs, gen->finish_reason(), gen->usage());
  }
};

std::string prompt_log_text(const nlohmann::json& body) {
  auto it = body.find("messages");
  return it == body.end() ? "" : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// SSE producer: role chunk, reasoning/content/tool-call chunks, finish chunk, [DONE].
class ChatStreamer {
 public:
  explicit ChatStreamer(std::shared_ptr<ChatRun> run) : run_(std::move(run)) {}

  bool step(const WriteFn& write) {
    ChatRun& r = *run_;
    if (!started_) {
      started_ = true;
      ojson delta;
      delta["role"] = "assistant";
      if (r.request.thinking) {
        delta["content"] = nullptr;
        delta["reasoning_content"] = "";
      } else {
        delta["content"] = "";
      }
      if (!send(write, chunk(delta, ojson(nullptr), ""))) return false;
    }
    if (r.expired()) {
      r.gen->cancel();
      send(write, sse_event(error_body(internal_error("request timed out"))));
      send(write, sse_done());
      r.complete(504);
      return false;
    }
    Delta d;
    const bool finished = r.gen->poll(milliseconds(100), d);
    if (!emit(write, d)) return false;
    if (finished) {
      if (!r.gen->error().empty() && r.gen->usage().completion_tokens == 0) {
        send(write, sse_event(error_body(internal_error(r.gen->error()))));
        send(write, sse_done());
        r.complete(500);
        return false;
      }
      ojson delta;
      delta["content"] = "";
      if (r.request.thinking) delta["reasoning_content"] = nullptr;
      const std::string last = sse_event(chat_chunk(r.meta, delta, ojson(nullptr),
                                                    r.gen->finish_reason(),
                                                    usage_json(r.gen->usage(), true), false));
      if (send(write, last)) send(write, sse_done());
      r.complete(200);
      return false;
    }
    if (Clock::now() - last_write_ >= r.ctx.keepalive_interval)
      return send(write, sse_keepalive());
    return true;
  }

 private:
  std::string chunk(const ojson& delta, const ojson& logprobs, const std::string& finish) const {
    return sse_event(chat_chunk(run_->meta, delta, logprobs, finish, std::nullopt,
                                run_->request.include_usage));
  }

  bool send(const WriteFn& write, const std::string& bytes) {
    if (!write(bytes)) {
      // The client went away: stop generating; the tokens made so far still count.
      run_->gen->cancel();
      run_->complete(499);
      return false;
    }
    last_write_ = Clock::now();
    return true;
  }

  bool emit(const WriteFn& write, const Delta& d) {
    ChatRun& r = *run_;
    const bool thinking = r.request.thinking;
    pending_logprobs_.insert(pending_logprobs_.end(), d.logprobs.begin(), d.logprobs.end());
    if (!d.reasoning.empty()) {
      ojson delta;
      delta["content"] = nullptr;
      delta["reasoning_content"] = d.reasoning;
      if (!send(write, chunk(delta, ojson(nullptr), ""))) return false;
    }
    if (!d.content.empty()) {
      ojson delta;
      delta["content"] = d.content;
      if (thinking) delta["reasoning_content"] = nullptr;
      ojson lp(nullptr);
      if (r.request.logprobs) {
        lp = chat_logprobs_json(pending_logprobs_, r.request.top_logprobs);
        pending_logprobs_.clear();
      }
      if (!send(write, chunk(delta, lp, ""))) return false;
    }
    for (const auto& call : d.tool_calls) {
      ojson tc;
      tc["index"] = call.index;
      if (call.header) {
        tc["id"] = call.id;
        tc["type"] = "function";
        tc["function"] = {{"name", call.name}, {"arguments", call.arguments}};
      } else {
        tc["function"] = {{"arguments", call.arguments}};
      }
      ojson delta;
      delta["tool_calls"] = ojson::array({std::move(tc)});
      if (!send(write, chunk(delta, ojson(nullptr), ""))) return false;
    }
    return true;
  }

  std::shared_ptr<ChatRun> run_;
  bool started_ = false;
  Clock::time_point last_write_ = Clock::now();
  std::vector<LogprobEntry> pending_logprobs_;
};

}  // namespace

HandlerReply handle_chat_completions(ServerContext& ctx, std::shared_ptr<RequestScope> scope,
                                     const std::string& body) {
  const nlohmann::json json = parse_request_body(body);
  auto run = std::make_shared<ChatRun>(ctx, scope);
  ChatRequest& req = run->request;
  req = parse_chat_request(json, ctx.api);
  scope->set_model(req.model);
  if (ctx.log_prompts) scope->set_prompt_log(prompt_log_text(json));

  Backend& backend = ctx.backend;
  std::vector<int32_t> prompt = backend.encode_chat(req);
  const int32_t n_ctx = context_size(ctx, backend.info());
  const int32_t budget = completion_budget(n_ctx, static_cast<int64_t>(prompt.size()),
                                           req.max_tokens, req.max_tokens_default);

  engine::GenerateRequest g;
  g.sampling = req.sampling;
  g.max_tokens = budget;
  GenerationOptions options;
  if (req.thinking && ctx.api.compat == Compat::kE2) {
    // max_tokens limits the answer; the chain of thought may add up to 32K more (§2.4).
    g.max_tokens = static_cast<int32_t>(std::min<int64_t>(
        static_cast<int64_t>(budget) + kE2ReasoningBudget, n_ctx - static_cast<int64_t>(prompt.size())));
    options.answer_token_limit = budget;
  }
  g.constraint = backend.make_constraint(req);
  g.request_id = scope->id();
  g.prompt = std::move(prompt);
  auto stream = submit_generation(backend, std::move(g));
  options.stop = req.stop;
  options.logprobs = req.logprobs;
  options.start = scope->start();
  start_run(*run, req.model, std::move(stream), backend.make_output_parser(req), options);

  HandlerReply reply = start_reply(*scope, req.stream);
  if (!req.stream) return buffered_reply(run, std::move(reply));
  auto streamer = std::make_shared<ChatStreamer>(run);
  reply.producer = [streamer](const WriteFn& write) { return streamer->step(write); };
  return reply;
}

}  // namespace whale::server
