#include "server/generation.h"

#include <cstdio>
#include <random>

namespace whale::server {

namespace {

uint64_t random_u64() {
  // One generator per thread, seeded from the OS; ids need uniqueness, not secrecy.
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32)};
  return rng();
}

}  // namespace

std::string make_uuid_v4() {
  const uint64_t a = random_u64(), b = random_u64();
  uint8_t bytes[16];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(a >> (8 * i));
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return out;
}

std::string make_tool_call_id(int index) {
  static const char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id = "call_" + std::to_string(index) + "_";
  for (int i = 0; i < 22; ++i) id += kAlphabet[random_u64() % 62];
  return id;
}

Generation::Generation(Backend& backend, std::shared_ptr<engine::Stream> stream,
                       std::unique_ptr<OutputParser> parser, GenerationOptions options)
    : backend_(backend),
      stream_(std::move(stream)),
      parser_(parser ? std::move(parser) : std::make_unique<PlainOutputParser>()),
      decoder_(backend.make_decoder()),
      options_(std::move(options)),
      stop_(options_.stop) {}

Generation::~Generation() {
  if (stream_ && !stream_->finished()) stream_->cancel();
}

void Generation::cancel() {
  client_gone_ = true;
  if (stream_) stream_->cancel();
}

GenerationUsage Generation::usage() const {
  const engine::Usage u = stream_->usage();
  GenerationUsage out;
  out.prompt_tokens = u.prompt_tokens;
  out.cache_hit_tokens = u.cached_prompt_tokens;
  // Tokens we already received count even if the engine's own tally lags a cancel.
  out.completion_tokens = std::max(u.completion_tokens, completion_tokens_);
  out.reasoning_tokens = std::min(reasoning_tokens_, out.completion_tokens);
  return out;
}

void Generation::apply(std::vector<OutputPiece>& pieces, Delta& delta) {
  for (auto& p : pieces) {
    switch (p.kind) {
      case OutputPiece::Kind::kReasoning: delta.reasoning += p.text; break;
      case OutputPiece::Kind::kContent: delta.content += p.text; break;
      case OutputPiece::Kind::kToolCallBegin: {
        while (static_cast<int>(call_ids_.size()) <= p.tool_index)
          call_ids_.push_back(make_tool_call_id(static_cast<int>(call_ids_.size())));
        n_tool_calls_ = std::max(n_tool_calls_, p.tool_index + 1);
        ToolCallDelta d;
        d.index = p.tool_index;
        d.header = true;
        d.id = call_ids_[p.tool_index];
        d.name = p.name;
        delta.tool_calls.push_back(std::move(d));
        break;
      }
      case OutputPiece::Kind::kToolCallArguments: {
        if (p.text.empty()) break;
        // Merge consecutive fragments of one call into one delta entry.
        // The header delta keeps "" arguments (spec §3.4: header first, then fragments).
        if (!delta.tool_calls.empty() && delta.tool_calls.back().index == p.tool_index &&
            !delta.tool_calls.back().header) {
          delta.tool_calls.back().arguments += p.text;
        } else {
          ToolCallDelta d;
          d.index = p.tool_index;
          d.arguments = p.text;
          delta.tool_calls.push_back(std::move(d));
        }
        break;
      }
    }
  }
  pieces.clear();
}

void Generation::feed_text(const std::string& text, Delta& delta) {
  if (text.empty()) return;
  const std::string safe = stop_.push(text);
  std::vector<OutputPiece> pieces;
  if (!safe.empty()) parser_->push(safe, pieces);
  apply(pieces, delta);
}

void Generation::finish(Delta& delta) {
  finished_ = true;
  std::vector<OutputPiece> pieces;
  if (!stop_.matched()) {
    const std::string rest = stop_.flush();
    if (!rest.empty()) parser_->push(rest, pieces);
  }
  parser_->finish(pieces);
  apply(pieces, delta);
  const engine::FinishReason reason = stream_->finish_reason();
  if (stop_.matched()) {
    finish_reason_ = "stop";
  } else if (length_by_us_) {
    finish_reason_ = "length";
  } else {
    switch (reason) {
      case engine::FinishReason::kStop: finish_reason_ = "stop"; break;
      case engine::FinishReason::kLength: finish_reason_ = "length"; break;
      case engine::FinishReason::kError:
        error_ = stream_->error();
        finish_reason_ = "insufficient_system_resource";
        break;
      case engine::FinishReason::kCancelled:
      case engine::FinishReason::kNone:
        // Not cancelled by us: the engine shut down or ran out of room (§3.1 table).
        finish_reason_ = client_gone_ ? "stop" : "insufficient_system_resource";
        break;
    }
  }
  if (finish_reason_ == "stop" && n_tool_calls_ > 0) finish_reason_ = "tool_calls";
}

bool Generation::poll(std::chrono::milliseconds timeout, Delta& delta) {
  if (finished_) return true;
  events_.clear();
  const bool more = stream_->next(events_, timeout);
  for (const auto& ev : events_) {
    if (stopped_by_us_) break;  // the engine may have produced a few more before the cancel
    const auto now = std::chrono::steady_clock::now();
    if (completion_tokens_ == 0) {
      ttft_ = std::chrono::duration<double>(now - options_.start).count();
    } else {
      itl_.push_back(std::chrono::duration<double>(now - last_token_).count());
    }
    last_token_ = now;
    ++completion_tokens_;
    if (options_.logprobs) {
      LogprobEntry e;
      e.bytes = backend_.token_bytes(ev.token);
      e.logprob = ev.logprob;
      for (const auto& t : ev.top) e.top.push_back({backend_.token_bytes(t.token), t.logprob});
      delta.logprobs.push_back(std::move(e));
    }
    const bool reasoning_before = parser_->in_reasoning();
    feed_text(decoder_->push(ev.token), delta);
    if (reasoning_before || parser_->in_reasoning()) {
      ++reasoning_tokens_;
    } else {
      ++answer_tokens_;
      if (options_.answer_token_limit > 0 && answer_tokens_ >= options_.answer_token_limit &&
          !stop_.matched()) {
        length_by_us_ = true;
        stopped_by_us_ = true;
        stream_->cancel();
      }
    }
    if (stop_.matched()) {
      stopped_by_us_ = true;
      stream_->cancel();
    }
  }
  if (stopped_by_us_) {
    // Drain whatever the engine still delivers so its usage settles, without waiting long.
    // Bounded: a stream that never settles must not hang the request.
    std::vector<engine::TokenEvent> ignored;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < give_up &&
           stream_->next(ignored, std::chrono::milliseconds(50)))
      ignored.clear();
    if (!stop_.matched()) feed_text(decoder_->flush(), delta);
    finish(delta);
    return true;
  }
  if (!more) {
    feed_text(decoder_->flush(), delta);
    finish(delta);
    return true;
  }
  return false;
}

}  // namespace whale::server
