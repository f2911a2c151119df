// A batch of SeqSteps flattened to one row per new token, with each token's sequence, absolute
// position and KV slot, and the rows whose logits were asked for. Shared by every architecture.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"

namespace whale::model {

struct FlatBatch {
  struct Seq {
    int64_t first = 0;      // index of its first new token in the flat batch
    int64_t count = 0;      // new tokens
    int32_t n_past = 0;
    std::span<const int32_t> blocks;
    int32_t n_ctx() const { return n_past + static_cast<int32_t>(count); }
  };
  std::vector<Seq> seqs;
  std::vector<int32_t> tokens;   // per flat token
  std::vector<int32_t> pos;      // absolute position
  std::vector<int32_t> seq;      // index into seqs
  std::vector<int64_t> logit_rows;  // flat token indices whose logits are returned, in order
  // Tokens [prompt_from, n_tokens()) are the prompt tokens (SeqStep::prompt): flatten_batch
  // puts the sequences of prompt steps after all others, so they form one run at the end.
  int64_t prompt_from = 0;

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  // KV location of position p of sequence s.
  int32_t block_of(int s, int32_t p) const { return seqs[s].blocks[p / KvPool::kBlockTokens]; }
  static int slot_of(int32_t p) { return p % KvPool::kBlockTokens; }
};

// Validates token ids against vocab_size and that each block table covers its positions and
// names valid, distinct-from-others' blocks; throws whale::Error otherwise. Sequences keep the
// batch's order except that prompt steps come after the others; logit_rows still follow the
// batch's order.
FlatBatch flatten_batch(std::span<const SeqStep> batch, const KvPool& kv, int64_t vocab_size,
                        int64_t max_ctx);

}  // namespace whale::model
