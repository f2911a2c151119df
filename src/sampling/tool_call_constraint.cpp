#include "sampling/tool_call_constraint.h"

#include <algorithm>
#include <limits>

#include "sampling/schema_machine.h"
#include "util/error.h"

namespace whale::sampling {

ToolCallConstraint::ToolCallConstraint(std::shared_ptr<JsonVocab> vocab, std::vector<std::string> heads,
                                       std::vector<std::shared_ptr<const CompiledSchema>> schemas)
    : vocab_(std::move(vocab)) {
  if (!vocab_) fail("tool-call constraint: no vocabulary");
  if (!schemas.empty() && schemas.size() != heads.size())
    fail("tool-call constraint: ", schemas.size(), " schemas for ", heads.size(), " heads");
  schemas.resize(heads.size());
  for (size_t i = 0; i < heads.size(); ++i) {
    if (heads[i].empty()) fail("tool-call constraint: empty head");
    if (!vocab_->spellable(heads[i])) continue;
    heads_.push_back(std::move(heads[i]));
    schemas_.push_back(std::move(schemas[i]));
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
  const auto it = std::find(heads_.begin(), heads_.end(), head_);
  if (it == heads_.end()) return;
  const auto& schema = schemas_[static_cast<size_t>(it - heads_.begin())];
  if (schema)
    json_.emplace(vocab_, std::make_unique<SchemaMachine>(schema));
  else
    json_.emplace(vocab_);
}

}  // namespace whale::sampling
