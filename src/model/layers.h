// Building blocks shared by the architectures: embedding lookup, RMSNorm over rows, the SwiGLU
// feed-forward, reading a sequence's KV rows back as f32, and the output head. Each works on
// row-major [tokens x width] f32 activations; the heavy products go to kernels::matmul.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "tensor/tensor_view.h"
#include "util/thread_pool.h"

namespace whale::model {

// out[t] = row tokens[t] of the embedding matrix [n_embd x vocab], as f32.
void embed_tokens(const TensorView& emb, std::span<const int32_t> tokens, float* out);

// y[r] = RMSNorm(x[r]; w) for `rows` rows of width n (y may equal x).
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);

// out = down · (silu(gate · x) ⊙ (up · x)) for T rows of x (width gate.ne[0]).
void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x,
                int64_t T, float* out, ThreadPool& pool);

// Several SwiGLU feed-forwards at once (the selected experts of a MoE layer): all gate and up
// products in one parallel pass, all down products in a second, so a decode step pays two pool
// barriers per layer instead of three per expert.
struct FfnJob {
  const TensorView* gate = nullptr;
  const TensorView* up = nullptr;
  const TensorView* down = nullptr;
  const float* x = nullptr;  // n_tokens rows of gate->ne[0]
  int64_t n_tokens = 0;
  float* out = nullptr;      // n_tokens rows of down->n_rows()
};
void swiglu_ffns(std::span<const FfnJob> ffns, ThreadPool& pool);

// The first n_ctx KV rows of sequence s in `layer`, as f32 [n_ctx x values_per_token].
void load_kv_rows(const KvPool& kv, const FlatBatch& fb, int s, int layer, std::vector<float>& out);

// Stores one f32 KV row for flat token i of the batch.
void store_kv_row(KvPool& kv, const FlatBatch& fb, int64_t i, int layer, const float* row);

// Logits of the batch's logit rows: RMSNorm(h; norm) then the head matrix [n_embd x vocab].
void output_logits(const TensorView& head, const float* norm_w, float eps, const FlatBatch& fb,
                   const float* h, int64_t n_embd, std::vector<float>& logits, ThreadPool& pool);

}  // namespace whale::model
