// Streaming split of generated text into reasoning (the <think>…</think> span) and answer
// content (api.md §4.1, tokenizer-and-chat.md §6.3 "Forced thinking").
//
// Contract:
// - start_inside=true (R1, Distill, V3.1 thinking: the prompt ended with "<think>\n"): all text
//   up to the first close tag is reasoning. start_inside=false: if the output begins (after
//   optional whitespace) with the open tag, the span it opens is reasoning (R1-0528); otherwise
//   everything is content.
// - Only one reasoning span, at the start: after content has begun, tags are ordinary content;
//   a second "</think>" inside content stays content.
// - Whitespace: leading whitespace of reasoning, trailing whitespace before the close tag, and
//   leading whitespace of the content after the close tag are dropped (trim=true).
// - Tags may arrive split at any byte; a tail that could still become a tag is held back until
//   it can be decided or finish() is called. For any chunking of the same text, the
//   concatenated outputs are identical.
// - If the text ends inside the reasoning span (length limit), everything is reasoning.
// Not thread-safe; one instance per generated sequence.
#pragma once
#include <string>

namespace whale::chat {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(bool start_inside, std::string open_tag = "<think>",
                             std::string close_tag = "</think>", bool trim = true);

  // Feeds the next piece of generated text; returns what can be emitted now.
  ReasoningDelta feed(const std::string& text);
  // End of generation: flushes anything held back.
  ReasoningDelta finish();

  // True once the close tag has been seen (or content started without reasoning).
  bool in_content() const { return state_ == State::Content || state_ == State::ContentStart; }
  // True while inside the reasoning span.
  bool in_reasoning() const { return state_ == State::Reasoning || state_ == State::ReasoningStart; }

 private:
  enum class State { Detect, ReasoningStart, Reasoning, ContentStart, Content };
  void step(ReasoningDelta& out, bool final);

  State state_;
  std::string open_, close_;
  bool trim_;
  std::string pending_;     // undecided input
  std::string held_space_;  // whitespace held inside reasoning (may precede the close tag)
};

}  // namespace whale::chat
