#include "sampling/tool_call_constraint.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace whale::sampling {

namespace {

// Whether `text` can be written as a sequence of the vocabulary's (non-end) tokens. Byte-level
// vocabularies have every single byte, which settles it at once; otherwise a reachability pass
// over the positions of `text`.
bool spellable(const JsonVocab& vocab, const std::string& text, const std::vector<uint8_t>& byte_ok) {
  if (std::all_of(text.begin(), text.end(),
                  [&](char c) { return byte_ok[static_cast<uint8_t>(c)] != 0; }))
    return true;
  std::vector<uint8_t> reach(text.size() + 1, 0);
  reach[0] = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!reach[i]) continue;
    for (int32_t id = 0; id < vocab.vocab_size(); ++id) {
      const std::string& b = vocab.bytes(id);
      if (b.empty() || vocab.is_eog(id) || b.size() > text.size() - i) continue;
      if (text.compare(i, b.size(), b) == 0) reach[i + b.size()] = 1;
    }
  }
  return reach[text.size()] != 0;
}

}  // namespace

ToolCallConstraint::ToolCallConstraint(std::shared_ptr<JsonVocab> vocab, std::vector<std::string> heads)
    : vocab_(std::move(vocab)) {
  if (!vocab_) fail("tool-call constraint: no vocabulary");
  std::vector<uint8_t> byte_ok(256, 0);
  for (int32_t id = 0; id < vocab_->vocab_size(); ++id) {
    const std::string& b = vocab_->bytes(id);
    if (b.size() == 1 && !vocab_->is_eog(id)) byte_ok[static_cast<uint8_t>(b[0])] = 1;
  }
  for (auto& h : heads) {
    if (h.empty()) fail("tool-call constraint: empty head");
    if (spellable(*vocab_, h, byte_ok)) heads_.push_back(std::move(h));
  }
  if (heads_.empty()) fail("tool-call constraint: no head can be spelled with this vocabulary");
  for (size_t i = 0; i < heads_.size(); ++i)
    for (size_t j = 0; j < heads_.size(); ++j)
      if (i != j && heads_[j].compare(0, heads_[i].size(), heads_[i]) == 0)
        fail("tool-call constraint: head \"", heads_[i], "\" is a prefix of \"", heads_[j], "\"");
}

bool ToolCallConstraint::head_allows(const std::string& bytes) const {
  if (bytes.empty()) return false;
  for (const auto& h : heads_) {
    if (h.size() < head_.size() + bytes.size()) continue;
    if (h.compare(0, head_.size(), head_) == 0 && h.compare(head_.size(), bytes.size(), bytes) == 0)
      return true;
  }
  return false;
}

bool ToolCallConstraint::allows(int32_t token) {
  if (json_) return json_->allows(token);
  if (token < 0 || token >= vocab_->vocab_size() || vocab_->is_eog(token)) return false;
  return head_allows(vocab_->bytes(token));
}

void ToolCallConstraint::mask(std::span<float> logits) {
  if (json_) return json_->mask(logits);
  const float ninf = -std::numeric_limits<float>::infinity();
  const int32_t n = std::min<int32_t>(static_cast<int32_t>(logits.size()), vocab_->vocab_size());
  for (int32_t id = 0; id < n; ++id)
    if (vocab_->is_eog(id) || !head_allows(vocab_->bytes(id))) logits[id] = ninf;
  for (size_t id = static_cast<size_t>(n); id < logits.size(); ++id) logits[id] = ninf;
}

void ToolCallConstraint::accept(int32_t token) {
  if (json_) return json_->accept(token);
  if (!allows(token))
    fail("tool-call constraint: token ", token, " is not allowed after \"", head_, "\"");
  head_ += vocab_->bytes(token);
  if (std::find(heads_.begin(), heads_.end(), head_) != heads_.end()) json_.emplace(vocab_);
}

}  // namespace whale::sampling
