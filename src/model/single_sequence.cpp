#include "model/single_sequence.h"

#include <algorithm>

#include "util/error.h"

namespace whale::model {

SingleSequence::SingleSequence(Model& model, int64_t max_tokens, KvType kv_type)
    : model_(model),
      kv_(model.info().kv_layout, kv_type, std::max<int64_t>(1, (max_tokens + KvPool::kBlockTokens - 1) / KvPool::kBlockTokens)) {
  for (int64_t b = 0; b < kv_.n_blocks(); ++b) blocks_.push_back(kv_.allocate());
}

const std::vector<float>& SingleSequence::append(std::span<const int32_t> tokens, bool all_logits, int64_t chunk,
                                                 bool prompt) {
  if (tokens.empty()) fail("eval: no tokens");
  const int64_t cap = kv_.n_blocks() * KvPool::kBlockTokens;
  if (n_past_ + static_cast<int64_t>(tokens.size()) > cap)
    fail("context full: ", n_past_, " + ", tokens.size(), " tokens exceed the context of ", cap);
  logits_.clear();
  for (size_t off = 0; off < tokens.size(); off += static_cast<size_t>(chunk)) {
    const size_t n = std::min(tokens.size() - off, static_cast<size_t>(chunk));
    const bool last = off + n == tokens.size();
    SeqStep step{tokens.subspan(off, n), n_past_, blocks_, all_logits, prompt};
    model_.forward({&step, 1}, kv_, chunk_logits_);
    n_past_ += static_cast<int32_t>(n);
    if (all_logits) logits_.insert(logits_.end(), chunk_logits_.begin(), chunk_logits_.end());
    else if (last) logits_.swap(chunk_logits_);
  }
  return logits_;
}

void SingleSequence::rewind(int32_t n) { n_past_ = std::max(0, n_past_ - n); }

}  // namespace whale::model
