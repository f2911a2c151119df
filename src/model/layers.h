// Building blocks shared by the architectures: embedding lookup, RMSNorm over rows, the SwiGLU
// feed-forward, reading a sequence's KV rows back as f32, and the output head. Each works on
// row-major [tokens x width] f32 activations; the heavy products go to kernels::matmul.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "tensor/tensor_view.h"
#include "util/thread_pool.h"

namespace whale::model {

// out[t] = row tokens[t] of the embedding matrix [n_embd x vocab], as f32.
void embed_tokens(const TensorView& emb, std::span<const int32_t> tokens, float* out);

// y[r] = RMSNorm(x[r]; w) for `rows` rows of width n (y may equal x).
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);
// The same, rows split over the pool when there are enough of them (prompt processing): each
// row's arithmetic is unchanged, so the result is identical.
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, ThreadPool& pool);

// fn(begin, end) over [0, n) in element ranges: on the pool when n is large enough to repay a
// pool run (prompt processing), else inline (decode). The work must be independent per element.
void for_range(ThreadPool& pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn);
// The same over `rows` independent rows of about `row_elems` elements of work each: fn gets
// whole-row ranges [r0, r1).
void for_rows(ThreadPool& pool, int64_t rows, int64_t row_elems, const std::function<void(int64_t, int64_t)>& fn);

// out = down · (silu(gate · x) ⊙ (up · x)) for T rows of x (width gate.ne[0]); rows from
// prompt_from on are prompt tokens (matmul.h).
void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x,
                int64_t T, float* out, ThreadPool& pool, int64_t prompt_from = kernels::kNoPromptTokens);

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
  int64_t prompt_from = kernels::kNoPromptTokens;  // rows from here on are prompt tokens (matmul.h)
};
void swiglu_ffns(std::span<const FfnJob> ffns, ThreadPool& pool);

// The first n_ctx KV rows of sequence s in `layer`, as f32 [n_ctx x values_per_token].
void load_kv_rows(const KvPool& kv, const FlatBatch& fb, int s, int layer, std::vector<float>& out);

// Stores one f32 KV row for flat token i of the batch.
void store_kv_row(KvPool& kv, const FlatBatch& fb, int64_t i, int layer, const float* row);

// Shape check of a bound weight: [ne0 x rows] (rows < 0: any number of rows); throws
// whale::Error naming the source and the tensor.
void expect_shape(const WeightSource& w, const TensorView& t, int64_t ne0, int64_t rows);
// A 1-D weight (norm, bias) of n values as f32; absent and not required: empty.
std::vector<float> bind_vector(WeightSource& w, const std::string& name, int64_t n, bool required = true);

// What every architecture here shares around its layers (a pre-norm residual decoder): token
// embedding, per-layer attention and FFN norms, final norm and output head.
struct DecoderWeights {
  TensorView tok_embd, output;  // output is tok_embd when the file has none (tied; spec pitfall 20)
  std::vector<float> output_norm;
  std::vector<std::vector<float>> attn_norm, ffn_norm;  // per layer
};
DecoderWeights bind_decoder_weights(WeightSource& w, int n_layers, int64_t n_embd, int64_t vocab_size);

// One forward pass of the residual stack: embeds the batch's tokens, then for each layer
//   h += attention(l, RMSNorm(h; attn_norm[l]))   and   h += ffn(l, RMSNorm(h; ffn_norm[l])),
// and writes the logits of the batch's logit rows. The sublayers write T x n_embd outputs.
using SublayerFn = std::function<void(int layer, const float* xn, float* out)>;
void run_decoder(const DecoderWeights& w, const FlatBatch& fb, int64_t n_embd, float eps, const SublayerFn& attention,
                 const SublayerFn& ffn, std::vector<float>& logits, ThreadPool& pool);

// Logits of the batch's logit rows: RMSNorm(h; norm) then the head matrix [n_embd x vocab].
void output_logits(const TensorView& head, const float* norm_w, float eps, const FlatBatch& fb,
                   const float* h, int64_t n_embd, std::vector<float>& logits, ThreadPool& pool);

}  // namespace whale::model
