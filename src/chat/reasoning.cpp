// Reasoning/content split of a generated stream (reasoning.h). Every decision depends only on
// the text seen so far, never on where chunks were cut, so any chunking gives the same output.
#include "chat/reasoning.h"

#include "chat/stream_text.h"

namespace whale::chat {

ReasoningSplitter::ReasoningSplitter(bool start_inside, std::string open_tag, std::string close_tag, bool trim)
    : state_(start_inside ? State::ReasoningStart : State::Detect),
      open_(std::move(open_tag)),
      close_(std::move(close_tag)),
      trim_(trim) {}

ReasoningDelta ReasoningSplitter::feed(const std::string& text) {
  pending_ += text;
  ReasoningDelta out;
  step(out, false);
  return out;
}

ReasoningDelta ReasoningSplitter::finish() {
  ReasoningDelta out;
  step(out, true);
  held_space_.clear();  // trailing whitespace of an unfinished reasoning span is dropped
  return out;
}

void ReasoningSplitter::step(ReasoningDelta& out, bool final) {
  // Reasoning text goes out with trailing whitespace held back: it is dropped if the close tag
  // follows, and emitted if more reasoning does.
  auto emit_reasoning = [&](const std::string& t) {
    std::string c = held_space_ + t;
    held_space_.clear();
    if (!trim_) {
      out.reasoning += c;
      return;
    }
    std::size_t e = c.size();
    while (e > 0 && is_ascii_space(c[e - 1])) --e;
    out.reasoning.append(c, 0, e);
    held_space_ = c.substr(e);
  };
  while (true) {
    switch (state_) {
      case State::Detect: {
        std::size_t b = 0;
        while (b < pending_.size() && is_ascii_space(pending_[b])) ++b;
        std::string t = pending_.substr(b);
        if (t.size() >= open_.size()) {
          if (t.compare(0, open_.size(), open_) == 0) {
            pending_ = t.substr(open_.size());
            state_ = State::ReasoningStart;
          } else {
            state_ = State::Content;
          }
          continue;
        }
        if (!final && open_.compare(0, t.size(), t) == 0) return;  // may still become the tag
        state_ = State::Content;
        continue;
      }
      case State::ReasoningStart:
      case State::ContentStart: {
        std::size_t b = 0;
        if (trim_)
          while (b < pending_.size() && is_ascii_space(pending_[b])) ++b;
        pending_.erase(0, b);
        if (pending_.empty()) return;
        state_ = state_ == State::ReasoningStart ? State::Reasoning : State::Content;
        continue;
      }
      case State::Reasoning: {
        std::size_t p = pending_.find(close_);
        if (p != std::string::npos) {
          emit_reasoning(pending_.substr(0, p));
          held_space_.clear();
          pending_.erase(0, p + close_.size());
          state_ = State::ContentStart;
          continue;
        }
        std::size_t hold = final ? 0 : partial_marker_suffix(pending_, {close_});
        emit_reasoning(pending_.substr(0, pending_.size() - hold));
        pending_.erase(0, pending_.size() - hold);
        return;
      }
      case State::Content:
        out.content += pending_;
        pending_.clear();
        return;
    }
  }
}

}  // namespace whale::chat
