#include "model/batch.h"

#include <vector>

#include "util/error.h"

namespace whale::model {

FlatBatch flatten_batch(std::span<const SeqStep> batch, const KvPool& kv, int64_t vocab_size,
                        int64_t max_ctx) {
  FlatBatch fb;
  fb.seqs.reserve(batch.size());
  // Non-prompt steps first, then prompt steps, each in batch order.
  std::vector<size_t> order;
  order.reserve(batch.size());
  for (int pass = 0; pass < 2; ++pass)
    for (size_t s = 0; s < batch.size(); ++s)
      if (batch[s].prompt == (pass == 1)) order.push_back(s);
  std::vector<std::vector<int64_t>> rows_of(batch.size());  // logit rows per batch entry
  for (const size_t s : order) {
    const SeqStep& st = batch[s];
    if (!st.prompt) fb.prompt_from = fb.n_tokens() + static_cast<int64_t>(st.tokens.size());
    if (st.tokens.empty()) fail("forward: sequence ", s, " of the batch has no new tokens");
    if (st.n_past < 0) fail("forward: sequence ", s, ": negative n_past ", st.n_past);
    FlatBatch::Seq q;
    q.first = fb.n_tokens();
    q.count = static_cast<int64_t>(st.tokens.size());
    q.n_past = st.n_past;
    q.blocks = st.block_table;
    const int64_t n_ctx = q.n_past + q.count;
    if (max_ctx > 0 && n_ctx > max_ctx)
      fail("forward: sequence ", s, " reaches ", n_ctx, " tokens, beyond the model's limit of ", max_ctx);
    const int64_t need = (n_ctx + KvPool::kBlockTokens - 1) / KvPool::kBlockTokens;
    if (static_cast<int64_t>(st.block_table.size()) < need)
      fail("forward: sequence ", s, " needs ", need, " KV blocks for ", n_ctx, " tokens, block table has ",
           st.block_table.size());
    for (int64_t b = 0; b < need; ++b) {
      const int32_t id = st.block_table[b];
      if (id < 0 || id >= kv.n_blocks()) fail("forward: sequence ", s, ": KV block id ", id, " out of range");
    }
    for (int64_t i = 0; i < q.count; ++i) {
      const int32_t t = st.tokens[i];
      if (t < 0 || t >= vocab_size) fail("forward: token id ", t, " out of range (vocabulary of ", vocab_size, ")");
      fb.tokens.push_back(t);
      fb.pos.push_back(static_cast<int32_t>(q.n_past + i));
      fb.seq.push_back(static_cast<int32_t>(fb.seqs.size()));
      if (st.all_logits || i == q.count - 1) rows_of[s].push_back(q.first + i);
    }
    fb.seqs.push_back(q);
  }
  for (const auto& rows : rows_of) fb.logit_rows.insert(fb.logit_rows.end(), rows.begin(), rows.end());
  return fb;
}

}  // namespace whale::model
