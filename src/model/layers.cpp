#include "model/layers.h"

#include <algorithm>
#include <cmath>

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

void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x,
                int64_t T, float* out, ThreadPool& pool) {
  const FfnJob job{&gate, &up, &down, x, T, out};
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
  std::vector<float> g(offset.back()), u(offset.back());
  std::vector<kernels::MatmulJob> jobs;
  jobs.reserve(2 * ffns.size());
  for (size_t i = 0; i < ffns.size(); ++i) {
    const FfnJob& f = ffns[i];
    jobs.push_back({f.gate, 0, -1, f.x, 0, g.data() + offset[i], 0, f.n_tokens});
    jobs.push_back({f.up, 0, -1, f.x, 0, u.data() + offset[i], 0, f.n_tokens});
  }
  kernels::matmul_batch(jobs, pool);
  kernels::silu_mul(g.data(), u.data(), g.data(), static_cast<int64_t>(g.size()));
  jobs.clear();
  for (size_t i = 0; i < ffns.size(); ++i) {
    const FfnJob& f = ffns[i];
    jobs.push_back({f.down, 0, -1, g.data() + offset[i], 0, f.out, 0, f.n_tokens});
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
