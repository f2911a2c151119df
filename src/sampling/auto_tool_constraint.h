// tool_choice "auto" with strict tools (api.md §7.3): the model may answer in text or call
// tools. Decoding is free until it emits the call-begin marker token; from there the rest of
// that call is forced into the chat family's call syntax, with the arguments following the
// tool's compiled schema (or any JSON object for a non-strict tool); after the call's closing
// pieces decoding is free again, so several calls (and text between them) work.
//
// A call, after the call-begin token:
//   `before` pieces (V3: text "function", then the <｜tool▁sep｜> token; V3.1: none),
//   one of `heads` (V3: NAME + "\n```json\n"; V3.1: NAME), then `head_end` when given
//   (V3.1: the <｜tool▁sep｜> token; required there because bare names are not prefix-free),
//   the arguments (JSON; top-level object),
//   `after` pieces (V3: text "\n```", then the <｜tool▁call▁end｜> token; V3.1: the end token).
// A piece is either text (spelled with any text tokens that stay inside it; a token never
// spans two pieces, a piece and a head, or a head and the arguments) or one special token id.
// Outside calls every token is allowed and the output is complete at any point (the end of
// generation is allowed); inside a call the end is refused until the call has closed.
// Throws whale::Error when a head or a text piece cannot be spelled with the vocabulary's text
// tokens, or a piece's token id is outside it (the server then decodes unconstrained).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sampling/constraint.h"
#include "sampling/json_constraint.h"
#include "sampling/schema_graph.h"

namespace whale::sampling {

struct CallPiece {
  int32_t token = -1;  // a special token, or -1 for text
  std::string text;
};

struct AutoCallSyntax {
  int32_t call_begin = -1;         // the token that opens a call
  std::vector<CallPiece> before;   // after call_begin, before the name
  std::vector<std::string> heads;  // one per tool
  int32_t head_end = -1;           // token after a whole head (-1: none; heads prefix-free)
  std::vector<CallPiece> after;    // after the arguments
};

class AutoToolConstraint final : public TokenConstraint {
 public:
  // schemas: one per head (nullptr = any JSON object), or empty for all non-strict.
  AutoToolConstraint(std::shared_ptr<JsonVocab> vocab, AutoCallSyntax syntax,
                     std::vector<std::shared_ptr<const CompiledSchema>> schemas);

  bool allows(int32_t token) override;
  void mask(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool complete() const override { return phase_ == Phase::kFree; }
  bool can_continue() const override { return true; }

  int calls_opened() const { return calls_; }
  bool in_call() const { return phase_ != Phase::kFree; }
  // The current (or last) call's head and arguments text.
  const std::string& head_text() const { return head_; }
  std::string arguments_text() const { return args_ ? args_->text() : last_args_; }

 private:
  enum class Phase { kFree, kBefore, kHead, kArgs, kAfter };
  bool piece_allows(const CallPiece& piece, int32_t token) const;
  bool head_allows(int32_t token) const;
  int whole_head() const;  // index of the head equal to head_, or -1
  void start_args(int head);
  void advance_piece(const std::vector<CallPiece>& pieces, int32_t token);

  std::shared_ptr<JsonVocab> vocab_;
  AutoCallSyntax syntax_;
  std::vector<std::shared_ptr<const CompiledSchema>> schemas_;
  Phase phase_ = Phase::kFree;
  size_t piece_ = 0;        // kBefore / kAfter: which piece
  size_t offset_ = 0;       // bytes of a text piece already written
  std::string head_;
  std::optional<JsonConstraint> args_;
  std::string last_args_;
  int calls_ = 0;
};

}  // namespace whale::sampling
