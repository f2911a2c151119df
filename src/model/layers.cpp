#include "model/layers.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace whale::model {

void embed_tokens(const TensorView& emb, std::span<const int32_t> tokens, float* out) {
  const int64_t n = emb.ne[0];
  for (size_t t = 0; t < tokens.size(); ++t) dequantize_row(emb.type, emb.row(tokens[t]), out + t * n, n);
}

void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // Sum of squares in double: one rounding instead of n keeps us closest to the exact value.
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
    for (int64_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * scale);
  }
}

void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, ThreadPool& pool) {
  for_rows(pool, rows, n, [&](int64_t r0, int64_t r1) { rmsnorm_rows(x + r0 * n, w, y + r0 * n, r1 - r0, n, eps); });
}

void for_rows(ThreadPool& pool, int64_t rows, int64_t row_elems, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t per = std::max<int64_t>(row_elems, 1);
  for_range(pool, rows * per, [&](int64_t b, int64_t e) {
    // Row r belongs to the range holding its first element r * per.
    const int64_t r0 = (b + per - 1) / per, r1 = (e + per - 1) / per;
    if (r1 > r0) fn(r0, r1);
  });
}

void for_range(ThreadPool& pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  // Below this many elements a pool run (wake, claim, barrier: a few microseconds) costs more
  // than the loop itself.
  constexpr int64_t kParallelElements = 1 << 16;
  if (n < kParallelElements || pool.size() == 1) {
    if (n > 0) fn(0, n);
    return;
  }
  pool.parallel_for(n, 1024, [&](int64_t b, int64_t e, int) { fn(b, e); });
}

void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x,
                int64_t T, float* out, ThreadPool& pool, int64_t prompt_from) {
  const FfnJob job{&gate, &up, &down, x, T, out, prompt_from};
  swiglu_ffns({&job, 1}, pool);
}

void swiglu_ffns(std::span<const FfnJob> ffns, ThreadPool& pool) {
  // Hidden activations of FFN i at offset[i] in g (gate, then silu(gate) * up) and u (up).
  std::vector<size_t> offset(ffns.size() + 1, 0);
  for (size_t i = 0; i < ffns.size(); ++i) {
    const FfnJob& f = ffns[i];
    if (f.up->n_rows() != f.gate->n_rows() || f.down->ne[0] != f.gate->n_rows())
      fail("feed-forward ", f.gate->name, ": gate has ", f.gate->n_rows(), " rows, up ", f.up->n_rows(),
           ", down takes ", f.down->ne[0]);
    offset[i + 1] = offset[i] + static_cast<size_t>(f.n_tokens * f.gate->n_rows());
  }
  // Every element is written by the products before it is read: no zero-fill.
  const size_t n_hidden = offset.back();
  const auto g = std::make_unique_for_overwrite<float[]>(n_hidden), u = std::make_unique_for_overwrite<float[]>(n_hidden);
  std::vector<kernels::MatmulJob> jobs;
  jobs.reserve(2 * ffns.size());
  for (size_t i = 0; i < ffns.size(); ++i) {
    const FfnJob& f = ffns[i];
    jobs.push_back({f.gate, 0, -1, f.x, 0, g.get() + offset[i], 0, f.n_tokens, f.prompt_from});
    jobs.push_back({f.up, 0, -1, f.x, 0, u.get() + offset[i], 0, f.n_tokens, f.prompt_from});
  }
  kernels::matmul_batch(jobs, pool);
  for_range(pool, static_cast<int64_t>(n_hidden),
            [&](int64_t b, int64_t e) { kernels::silu_mul(g.get() + b, u.get() + b, g.get() + b, e - b); });
  jobs.clear();
  for (size_t i = 0; i < ffns.size(); ++i) {
    const FfnJob& f = ffns[i];
    jobs.push_back({f.down, 0, -1, g.get() + offset[i], 0, f.out, 0, f.n_tokens, f.prompt_from});
  }
  kernels::matmul_batch(jobs, pool);
}

void load_kv_rows(const KvPool& kv, const FlatBatch& fb, int s, int layer, std::vector<float>& out) {
  const int n = kv.layout().values_per_token;
  const int32_t n_ctx = fb.seqs[s].n_ctx();
  out.resize(static_cast<size_t>(n_ctx) * n);
  for (int32_t p = 0; p < n_ctx; ++p)
    kv.load_row(fb.block_of(s, p), layer, FlatBatch::slot_of(p), out.data() + static_cast<size_t>(p) * n);
}

void store_kv_row(KvPool& kv, const FlatBatch& fb, int64_t i, int layer, const float* row) {
  const int s = fb.seq[i];
  const int32_t p = fb.pos[i];
  kv.store_row(fb.block_of(s, p), layer, FlatBatch::slot_of(p), row);
}

void expect_shape(const WeightSource& w, const TensorView& t, int64_t ne0, int64_t rows) {
  if (t.ne[0] != ne0 || (rows >= 0 && t.n_rows() != rows))
    fail(w.name(), ": tensor ", t.name, " has shape [", t.ne[0], ", ", t.n_rows(), "], expected [", ne0, ", ",
         rows >= 0 ? std::to_string(rows) : std::string("any"), "]");
}

std::vector<float> bind_vector(WeightSource& w, const std::string& name, int64_t n, bool required) {
  auto t = w.find(name);
  if (!t) {
    if (required) fail(w.name(), ": missing tensor ", name);
    return {};
  }
  if (t->n_elements() != n) fail(w.name(), ": tensor ", name, " has ", t->n_elements(), " values, expected ", n);
  return to_f32(*t);
}

DecoderWeights bind_decoder_weights(WeightSource& w, int n_layers, int64_t n_embd, int64_t vocab_size) {
  DecoderWeights d;
  d.tok_embd = w.require("token_embd.weight");
  expect_shape(w, d.tok_embd, n_embd, vocab_size);
  d.output_norm = bind_vector(w, "output_norm.weight", n_embd);
  auto out = w.find("output.weight");
  d.output = out ? *out : d.tok_embd;
  expect_shape(w, d.output, n_embd, -1);
  for (int l = 0; l < n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    d.attn_norm.push_back(bind_vector(w, p + "attn_norm.weight", n_embd));
    d.ffn_norm.push_back(bind_vector(w, p + "ffn_norm.weight", n_embd));
  }
  return d;
}

void run_decoder(const DecoderWeights& w, const FlatBatch& fb, int64_t n_embd, float eps, const SublayerFn& attention,
                 const SublayerFn& ffn, std::vector<float>& logits, ThreadPool& pool) {
  const int64_t T = fb.n_tokens(), D = n_embd;
  std::vector<float> h(static_cast<size_t>(T * D)), xn(h.size()), delta(h.size());
  embed_tokens(w.tok_embd, fb.tokens, h.data());
  for (size_t l = 0; l < w.attn_norm.size(); ++l) {
    const int layer = static_cast<int>(l);
    const auto residual = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) h[i] += delta[i];
    };
    rmsnorm_rows(h.data(), w.attn_norm[l].data(), xn.data(), T, D, eps, pool);
    attention(layer, xn.data(), delta.data());
    for_range(pool, T * D, residual);
    rmsnorm_rows(h.data(), w.ffn_norm[l].data(), xn.data(), T, D, eps, pool);
    ffn(layer, xn.data(), delta.data());
    for_range(pool, T * D, residual);
  }
  output_logits(w.output, w.output_norm.data(), eps, fb, h.data(), D, logits, pool);
}

void output_logits(const TensorView& head, const float* norm_w, float eps, const FlatBatch& fb,
                   const float* h, int64_t n_embd, std::vector<float>& logits, ThreadPool& pool) {
  const int64_t rows = static_cast<int64_t>(fb.logit_rows.size());
  std::vector<float> x(static_cast<size_t>(rows * n_embd));
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(h + fb.logit_rows[r] * n_embd, n_embd, x.data() + r * n_embd);
  rmsnorm_rows(x.data(), norm_w, x.data(), rows, n_embd, eps);
  logits.resize(static_cast<size_t>(rows * head.n_rows()));
  kernels::matmul(head, x.data(), rows, logits.data(), pool);
}

}  // namespace whale::model
