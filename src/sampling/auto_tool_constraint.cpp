#include "sampling/auto_tool_constraint.h"

#include <algorithm>
#include <limits>

#include "sampling/schema_machine.h"
#include "util/error.h"

namespace whale::sampling {

AutoToolConstraint::AutoToolConstraint(std::shared_ptr<JsonVocab> vocab, AutoCallSyntax syntax,
                                       std::vector<std::shared_ptr<const CompiledSchema>> schemas)
    : vocab_(std::move(vocab)), syntax_(std::move(syntax)), schemas_(std::move(schemas)) {
  if (!vocab_) fail("auto tool constraint: no vocabulary");
  const int32_t n = vocab_->vocab_size();
  auto check_token = [&](int32_t id, const char* what) {
    if (id < 0 || id >= n) fail("auto tool constraint: ", what, " token ", id, " outside the vocabulary (size ", n, ")");
  };
  check_token(syntax_.call_begin, "call-begin");
  if (syntax_.head_end != -1) check_token(syntax_.head_end, "head-end");
  for (const auto* pieces : {&syntax_.before, &syntax_.after})
    for (const auto& p : *pieces) {
      if (p.token >= 0) {
        check_token(p.token, "marker");
      } else if (p.text.empty() || !vocab_->spellable(p.text)) {
        fail("auto tool constraint: call text \"", p.text, "\" cannot be spelled with this vocabulary");
      }
    }
  if (syntax_.heads.empty()) fail("auto tool constraint: no heads");
  if (!schemas_.empty() && schemas_.size() != syntax_.heads.size())
    fail("auto tool constraint: ", schemas_.size(), " schemas for ", syntax_.heads.size(), " heads");
  schemas_.resize(syntax_.heads.size());
  const auto& h = syntax_.heads;
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i].empty() || !vocab_->spellable(h[i]))
      fail("auto tool constraint: head \"", h[i], "\" cannot be spelled with this vocabulary");
    for (size_t j = 0; j < h.size(); ++j) {
      // With a head-end token a head may be a prefix of another ("get" and "get_time"); they
      // must still differ.
      const bool prefix = i != j && h[j].compare(0, h[i].size(), h[i]) == 0;
      if (prefix && (syntax_.head_end == -1 || h[i] == h[j]))
        fail("auto tool constraint: head \"", h[i], "\" is a prefix of \"", h[j], "\"");
    }
  }
}

bool AutoToolConstraint::piece_allows(const CallPiece& piece, int32_t token) const {
  if (piece.token >= 0) return token == piece.token;
  if (vocab_->is_eog(token)) return false;
  const std::string& b = vocab_->bytes(token);
  return !b.empty() && b.size() <= piece.text.size() - offset_ &&
         piece.text.compare(offset_, b.size(), b) == 0;
}

bool AutoToolConstraint::head_allows(int32_t token) const {
  if (token == syntax_.head_end && syntax_.head_end >= 0) return whole_head() >= 0;
  if (vocab_->is_eog(token)) return false;
  const std::string& b = vocab_->bytes(token);
  if (b.empty()) return false;
  for (const auto& h : syntax_.heads)
    if (h.size() >= head_.size() + b.size() && h.compare(0, head_.size(), head_) == 0 &&
        h.compare(head_.size(), b.size(), b) == 0)
      return true;
  return false;
}

int AutoToolConstraint::whole_head() const {
  const auto it = std::find(syntax_.heads.begin(), syntax_.heads.end(), head_);
  return it == syntax_.heads.end() ? -1 : static_cast<int>(it - syntax_.heads.begin());
}

bool AutoToolConstraint::allows(int32_t token) {
  if (token < 0 || token >= vocab_->vocab_size()) return false;
  switch (phase_) {
    case Phase::kFree: return true;
    case Phase::kBefore: return piece_allows(syntax_.before[piece_], token);
    case Phase::kHead: return head_allows(token);
    case Phase::kArgs: return args_->allows(token);
    case Phase::kAfter: return piece_allows(syntax_.after[piece_], token);
  }
  return false;
}

void AutoToolConstraint::mask(std::span<float> logits) {
  if (phase_ == Phase::kArgs) return args_->mask(logits);
  const float ninf = -std::numeric_limits<float>::infinity();
  const int32_t n = std::min<int32_t>(static_cast<int32_t>(logits.size()), vocab_->vocab_size());
  if (phase_ != Phase::kFree)
    for (int32_t id = 0; id < n; ++id)
      if (!allows(id)) logits[id] = ninf;
  for (size_t id = static_cast<size_t>(n); id < logits.size(); ++id) logits[id] = ninf;
}

void AutoToolConstraint::start_args(int head) {
  if (const auto& schema = schemas_[static_cast<size_t>(head)])
    args_.emplace(vocab_, std::make_unique<SchemaMachine>(schema));
  else
    args_.emplace(vocab_);
  phase_ = Phase::kArgs;
}

// Moves through `pieces` past `token`; when they are all written, the phase after them starts.
void AutoToolConstraint::advance_piece(const std::vector<CallPiece>& pieces, int32_t token) {
  if (piece_ < pieces.size()) {
    const CallPiece& p = pieces[piece_];
    if (p.token >= 0) {
      ++piece_;
    } else if ((offset_ += vocab_->bytes(token).size()) == p.text.size()) {
      ++piece_;
      offset_ = 0;
    }
  }
  if (piece_ < pieces.size()) return;
  piece_ = 0;
  offset_ = 0;
  phase_ = phase_ == Phase::kBefore ? Phase::kHead : Phase::kFree;
}

void AutoToolConstraint::accept(int32_t token) {
  if (!allows(token))
    fail("auto tool constraint: token ", token, " is not allowed here (call ", calls_, ", head \"", head_, "\")");
  switch (phase_) {
    case Phase::kFree:
      if (token != syntax_.call_begin) return;
      ++calls_;
      head_.clear();
      last_args_.clear();
      phase_ = Phase::kBefore;
      piece_ = offset_ = 0;
      if (syntax_.before.empty()) phase_ = Phase::kHead;
      return;
    case Phase::kBefore:
    case Phase::kAfter:
      advance_piece(phase_ == Phase::kBefore ? syntax_.before : syntax_.after, token);
      return;
    case Phase::kHead:
      if (token == syntax_.head_end && syntax_.head_end >= 0) {
        start_args(whole_head());
        return;
      }
      head_ += vocab_->bytes(token);
      if (syntax_.head_end < 0 && whole_head() >= 0) start_args(whole_head());
      return;
    case Phase::kArgs:
      args_->accept(token);
      if (args_->complete() && !args_->can_continue()) {
        last_args_ = args_->text();
        args_.reset();
        phase_ = Phase::kAfter;
        piece_ = offset_ = 0;
        if (syntax_.after.empty()) phase_ = Phase::kFree;
      }
      return;
  }
}

}  // namespace whale::sampling
