// One sequence with a private KV pool: the simplest way to drive a Model (CLI logits/run,
// benchmarks, tests). The server uses engine/ instead, which batches many sequences.
#pragma once
#include <span>
#include <vector>

#include "model/model.h"

namespace whale::model {

class SingleSequence {
 public:
  // Room for `max_tokens` positions.
  SingleSequence(Model& model, int64_t max_tokens, KvType kv_type = KvType::F16);

  // Appends tokens (in chunks of at most `chunk`) and returns the logits of the last one, or of
  // all of them with all_logits (rows of vocab_size). eval() is for sampled tokens, prompt() for
  // a request's prompt (SeqStep::prompt: may use the prefill numerics).
  const std::vector<float>& eval(std::span<const int32_t> tokens, bool all_logits = false, int64_t chunk = 512) {
    return append(tokens, all_logits, chunk, false);
  }
  const std::vector<float>& prompt(std::span<const int32_t> tokens, bool all_logits = false, int64_t chunk = 512) {
    return append(tokens, all_logits, chunk, true);
  }
  int32_t n_past() const { return n_past_; }
  // Forgets the last n positions (their KV rows are simply overwritten later).
  void rewind(int32_t n);
  void reset() { n_past_ = 0; }
  const KvPool& kv() const { return kv_; }

 private:
  const std::vector<float>& append(std::span<const int32_t> tokens, bool all_logits, int64_t chunk, bool prompt);

  Model& model_;
  KvPool kv_;
  std::vector<int32_t> blocks_;
  int32_t n_past_ = 0;
  std::vector<float> logits_, chunk_logits_;
};

}  // namespace whale::model
