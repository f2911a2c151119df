// A model-free Backend for server tests. Tokens are bytes (id = byte value); id 256 is EOS.
// The "model" answers with a scripted text (FakeBackend::reply, or a function of the prompt),
// one byte per token, optionally slowly, through a fake engine with a fixed number of slots so
// queueing and cancellation can be observed through stats().
//
// Output syntax understood by the fake parser: in thinking mode everything before "</think>" is
// reasoning; "<call NAME>ARGS</call>" is a tool call (when the request has tools).
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/backend.h"
#include "server/errors.h"
#include "util/error.h"

namespace whale::server::testing {

inline constexpr int32_t kEos = 256;

struct FakeEngineState {
  std::mutex mu;
  std::condition_variable cv;
  int slots = 4;
  int active = 0;
  int queued = 0;
  int max_queue = 64;
  int64_t requests_total = 0;
  int64_t prompt_tokens_total = 0;
  int64_t completion_tokens_total = 0;
  bool shutting_down = false;
};

class FakeStream : public engine::Stream {
 public:
  FakeStream(std::shared_ptr<FakeEngineState> state, std::vector<int32_t> tokens,
             engine::GenerateRequest request, std::chrono::milliseconds delay)
      : state_(std::move(state)), tokens_(std::move(tokens)), req_(std::move(request)),
        delay_(delay) {
    std::lock_guard lock(state_->mu);
    ++state_->queued;
    ++state_->requests_total;
  }
  ~FakeStream() override { cancel(); }

  bool next(std::vector<engine::TokenEvent>& out, std::chrono::milliseconds timeout) override {
    if (done_) return false;
    const auto until = std::chrono::steady_clock::now() + timeout;
    if (!has_slot_) {
      std::unique_lock lock(state_->mu);
      if (!state_->cv.wait_until(lock, until, [&] {
            return state_->active < state_->slots || cancelled_ || state_->shutting_down;
          }))
        return true;
      --state_->queued;
      if (cancelled_ || state_->shutting_down) {
        end_locked(cancelled_ ? engine::FinishReason::kCancelled : engine::FinishReason::kCancelled);
        return !out.empty();
      }
      ++state_->active;
      has_slot_ = true;
      state_->prompt_tokens_total += static_cast<int64_t>(req_.prompt.size());
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::unique_lock lock(state_->mu);
    if (cancelled_ || state_->shutting_down) {
      end_locked(engine::FinishReason::kCancelled);
      return false;
    }
    if (produced_ >= static_cast<size_t>(req_.max_tokens)) {
      end_locked(engine::FinishReason::kLength);
      return false;
    }
    if (pos_ >= tokens_.size() || tokens_[pos_] == kEos) {
      end_locked(engine::FinishReason::kStop);
      return false;
    }
    engine::TokenEvent ev;
    ev.token = tokens_[pos_++];
    ++produced_;
    ++state_->completion_tokens_total;
    if (req_.sampling.top_logprobs >= 0) {
      ev.logprob = -0.5f;
      for (int i = 0; i < req_.sampling.top_logprobs; ++i)
        ev.top.push_back({(ev.token + i) % 256, -0.5f - i});
    }
    out.push_back(ev);
    return true;
  }
  void cancel() override {
    std::lock_guard lock(state_->mu);
    cancelled_ = true;
    if (!has_slot_ && !done_) {
      // Still queued: leave the queue now.
      --state_->queued;
      has_slot_ = true;  // so end_locked does not count it twice
      ++state_->active;
    }
    if (!done_) end_locked(engine::FinishReason::kCancelled);
  }
  bool finished() const override { return done_; }
  engine::FinishReason finish_reason() const override { return reason_; }
  engine::Usage usage() const override {
    engine::Usage u;
    u.prompt_tokens = static_cast<int32_t>(req_.prompt.size());
    u.completion_tokens = static_cast<int32_t>(produced_);
    return u;
  }
  std::string error() const override { return ""; }

 private:
  void end_locked(engine::FinishReason reason) {
    if (done_) return;
    done_ = true;
    reason_ = reason;
    if (has_slot_) --state_->active;
    state_->cv.notify_all();
  }

  std::shared_ptr<FakeEngineState> state_;
  std::vector<int32_t> tokens_;
  engine::GenerateRequest req_;
  std::chrono::milliseconds delay_;
  size_t pos_ = 0;
  size_t produced_ = 0;
  bool has_slot_ = false;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> done_{false};
  engine::FinishReason reason_ = engine::FinishReason::kNone;
};

class ByteDecoder : public TextDecoder {
 public:
  std::string push(int32_t token) override {
    if (token < 0 || token > 255) return "";
    pending_ += static_cast<char>(token);
    // Emit the longest prefix that ends on a complete UTF-8 character.
    size_t cut = pending_.size();
    size_t i = pending_.size();
    int back = 0;
    while (i > 0 && back < 4) {
      --i;
      ++back;
      const unsigned char c = static_cast<unsigned char>(pending_[i]);
      if ((c & 0xC0) != 0x80) {
        const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        if (static_cast<int>(pending_.size() - i) < len) cut = i;
        break;
      }
    }
    std::string out = pending_.substr(0, cut);
    pending_.erase(0, cut);
    return out;
  }
  std::string flush() override {
    std::string out = pending_.empty() ? "" : "\xEF\xBF\xBD";
    pending_.clear();
    return out;
  }

 private:
  std::string pending_;
};

// Streaming parser for the fake syntax, holding back possible marker prefixes.
class FakeParser : public OutputParser {
 public:
  FakeParser(bool thinking, bool tools) : reasoning_(thinking), tools_(tools) {}

  void push(std::string_view text, std::vector<OutputPiece>& out) override {
    buf_.append(text);
    process(out, false);
  }
  void finish(std::vector<OutputPiece>& out) override { process(out, true); }
  bool in_reasoning() const override { return reasoning_; }

 private:
  static bool is_prefix_tail(const std::string& buf, const std::string& marker, size_t& keep) {
    for (size_t len = std::min(marker.size() - 1, buf.size()); len > 0; --len)
      if (buf.compare(buf.size() - len, len, marker, 0, len) == 0) {
        keep = std::max(keep, len);
        return true;
      }
    return false;
  }
  void emit(std::vector<OutputPiece>& out, OutputPiece::Kind kind, const std::string& text) {
    if (text.empty()) return;
    out.push_back({kind, text, call_index_, {}});
  }
  void process(std::vector<OutputPiece>& out, bool final) {
    while (true) {
      if (reasoning_) {
        const auto at = buf_.find("</think>");
        if (at != std::string::npos) {
          emit(out, OutputPiece::Kind::kReasoning, buf_.substr(0, at));
          buf_.erase(0, at + 8);
          reasoning_ = false;
          continue;
        }
        size_t keep = 0;
        if (!final) is_prefix_tail(buf_, "</think>", keep);
        emit(out, OutputPiece::Kind::kReasoning, buf_.substr(0, buf_.size() - keep));
        buf_.erase(0, buf_.size() - keep);
        return;
      }
      if (in_call_) {
        const auto at = buf_.find("</call>");
        if (at != std::string::npos) {
          emit(out, OutputPiece::Kind::kToolCallArguments, buf_.substr(0, at));
          buf_.erase(0, at + 7);
          in_call_ = false;
          ++call_index_;
          continue;
        }
        size_t keep = 0;
        if (!final) is_prefix_tail(buf_, "</call>", keep);
        emit(out, OutputPiece::Kind::kToolCallArguments, buf_.substr(0, buf_.size() - keep));
        buf_.erase(0, buf_.size() - keep);
        return;
      }
      const auto at = tools_ ? buf_.find("<call ") : std::string::npos;
      if (at != std::string::npos) {
        const auto close = buf_.find('>', at);
        if (close == std::string::npos) {
          emit(out, OutputPiece::Kind::kContent, buf_.substr(0, at));
          buf_.erase(0, at);
          if (final) {
            emit(out, OutputPiece::Kind::kContent, buf_);
            buf_.clear();
          }
          return;
        }
        emit(out, OutputPiece::Kind::kContent, buf_.substr(0, at));
        out.push_back({OutputPiece::Kind::kToolCallBegin, "", call_index_,
                       buf_.substr(at + 6, close - at - 6)});
        buf_.erase(0, close + 1);
        in_call_ = true;
        continue;
      }
      size_t keep = 0;
      if (tools_ && !final) is_prefix_tail(buf_, "<call ", keep);
      emit(out, OutputPiece::Kind::kContent, buf_.substr(0, buf_.size() - keep));
      buf_.erase(0, buf_.size() - keep);
      return;
    }
  }

  bool reasoning_;
  bool tools_;
  bool in_call_ = false;
  int call_index_ = 0;
  std::string buf_;
};

class FakeBackend : public Backend {
 public:
  FakeBackend() : state_(std::make_shared<FakeEngineState>()) {}

  // What the model "says"; by default a fixed sentence.
  std::function<std::string(const std::string& prompt_text)> respond = [](const std::string&) {
    return std::string("Hello from the fake model.");
  };
  std::chrono::milliseconds token_delay{0};
  std::atomic<bool> is_ready{true};
  int32_t n_ctx = 4096;

  void set_slots(int n) {
    std::lock_guard lock(state_->mu);
    state_->slots = n;
  }
  void set_max_queue(int n) {
    std::lock_guard lock(state_->mu);
    state_->max_queue = n;
  }

  BackendInfo info() const override { return {"fake", "fp_0123456789", n_ctx, true}; }
  bool ready() const override { return is_ready; }

  std::vector<int32_t> encode_chat(const ChatRequest& r) override {
    std::string text;
    for (const auto& m : r.messages) text += m.role + ":" + m.content.value_or("") + "\n";
    if (!r.prefix_completion) text += "assistant:";
    last_prompt_text = text;
    return bytes(text);
  }
  std::vector<int32_t> encode_fim(const std::string& prompt,
                                  const std::optional<std::string>& suffix) override {
    std::string text = suffix ? "<fim>" + prompt + "<hole>" + *suffix + "<end>" : prompt;
    last_prompt_text = text;
    return bytes(text);
  }
  std::unique_ptr<TextDecoder> make_decoder() override { return std::make_unique<ByteDecoder>(); }
  std::unique_ptr<OutputParser> make_output_parser(const ChatRequest& r) override {
    const bool tools = !r.tools.empty() && r.tool_choice != ToolChoice::kNone;
    return std::make_unique<FakeParser>(r.thinking, tools);
  }
  std::string token_bytes(int32_t token) const override {
    return token >= 0 && token < 256 ? std::string(1, static_cast<char>(token)) : "";
  }
  std::shared_ptr<sampling::TokenConstraint> make_constraint(const ChatRequest&) override {
    return nullptr;
  }

  std::shared_ptr<engine::Stream> submit(engine::GenerateRequest request) override {
    {
      std::lock_guard lock(state_->mu);
      if (state_->shutting_down) throw whale::Error("engine is shutting down");
      if (state_->queued >= state_->max_queue) throw engine::QueueFull("queue full");
    }
    last_request = request;
    std::string prompt_text(request.prompt.begin(), request.prompt.end());
    std::vector<int32_t> out = bytes(respond(prompt_text));
    out.push_back(kEos);
    return std::make_shared<FakeStream>(state_, std::move(out), std::move(request), token_delay);
  }
  engine::EngineStats stats() const override {
    std::lock_guard lock(state_->mu);
    engine::EngineStats s;
    s.requests_total = state_->requests_total;
    s.requests_active = state_->active;
    s.requests_queued = state_->queued;
    s.prompt_tokens_total = state_->prompt_tokens_total;
    s.completion_tokens_total = state_->completion_tokens_total;
    s.kv_blocks_total = 100;
    s.kv_blocks_used = state_->active;
    return s;
  }
  void shutdown(std::chrono::milliseconds deadline) override {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::unique_lock lock(state_->mu);
    state_->cv.wait_until(lock, until, [&] { return state_->active == 0 && state_->queued == 0; });
    state_->shutting_down = true;
    state_->cv.notify_all();
  }

  engine::GenerateRequest last_request;
  std::string last_prompt_text;

 private:
  static std::vector<int32_t> bytes(const std::string& s) {
    std::vector<int32_t> out;
    for (unsigned char c : s) out.push_back(c);
    return out;
  }
  std::shared_ptr<FakeEngineState> state_;
};

}  // namespace whale::server::testing
