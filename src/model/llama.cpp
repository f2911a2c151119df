#include "model/llama.h"

#include <cmath>
#include <cstring>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/batch.h"
#include "model/layers.h"
#include "model/rope.h"
#include "util/error.h"

namespace whale::model {
namespace {

struct GqaLayer {
  TensorView wq, wk, wv, wo, gate, up, down;
  std::vector<float> bq, bk, bv;  // empty when the architecture has none
};

class Llama final : public Model {
 public:
  Llama(Hparams hp, std::unique_ptr<WeightSource> w, ThreadPool& pool, std::string name,
        std::shared_ptr<const void> keep_alive)
      : hp_(std::move(hp)), keep_alive_(std::move(keep_alive)), w_(std::move(w)), pool_(pool), rope_(hp_.rope) {
    bind_weights();
    info_.architecture = hp_.arch_name;
    info_.name = std::move(name);
    info_.vocab_size = hp_.vocab_size;
    info_.n_layers = hp_.n_layers;
    info_.n_embd = hp_.n_embd;
    info_.n_ctx_train = hp_.n_ctx_train;
    info_.kv_layout = {hp_.n_layers, hp_.kv_values_per_token()};
    info_.weight_bytes = w_->total_bytes();
    uint64_t active = base_.tok_embd.row_size() + base_.output.nbytes;
    for (const auto& L : layers_)
      for (const TensorView* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down}) active += t->nbytes;
    info_.active_weight_bytes = active;
    info_.description = str_cat(hp_.arch_name, ": ", hp_.n_layers, " layers, ", hp_.n_heads, " heads / ",
                                hp_.n_kv_heads, " kv heads of ", hp_.head_dim, ", rope ",
                                hp_.rope.layout == RopeLayout::kHalfSplit ? "half-split" : "adjacent pairs",
                                ", KV ", hp_.kv_values_per_token(), " values/token/layer");
  }

  const ModelInfo& info() const override { return info_; }

  void forward(std::span<const SeqStep> batch, KvPool& kv, std::vector<float>& logits) override {
    if (kv.layout().n_layers != hp_.n_layers || kv.layout().values_per_token != hp_.kv_values_per_token())
      fail("forward: KV pool layout does not match the model");
    const FlatBatch fb = flatten_batch(batch, kv, hp_.vocab_size, 0);
    run_decoder(
        base_, fb, hp_.n_embd, hp_.rms_eps,
        [&](int l, const float* xn, float* out) { attention(l, fb, kv, xn, out); },
        [&](int l, const float* xn, float* out) {
          const GqaLayer& L = layers_[l];
          swiglu_ffn(L.gate, L.up, L.down, xn, fb.n_tokens(), out, pool_, fb.prompt_from);
        },
        logits, pool_);
  }

 private:
  void attention(int l, const FlatBatch& fb, KvPool& kv, const float* xn, float* out) {
    const GqaLayer& L = layers_[l];
    const int64_t T = fb.n_tokens();
    const int H = hp_.n_heads, Hkv = hp_.n_kv_heads, hd = hp_.head_dim, group = H / Hkv;
    const int kvw = Hkv * hd;  // K (then V) width in a cache row
    std::vector<float> q(static_cast<size_t>(T) * H * hd), k(static_cast<size_t>(T) * kvw),
        v(static_cast<size_t>(T) * kvw), row(2 * static_cast<size_t>(kvw));
    const int64_t pf = fb.prompt_from;
    const kernels::MatmulJob qkv[3] = {{&L.wq, 0, -1, xn, 0, q.data(), 0, T, pf},
                                       {&L.wk, 0, -1, xn, 0, k.data(), 0, T, pf},
                                       {&L.wv, 0, -1, xn, 0, v.data(), 0, T, pf}};
    kernels::matmul_batch(qkv, pool_);
    for (int64_t t = 0; t < T; ++t) {
      // Biases are added before RoPE (spec pitfall 21).
      add_bias(q.data() + t * H * hd, L.bq);
      add_bias(k.data() + t * kvw, L.bk);
      add_bias(v.data() + t * kvw, L.bv);
      for (int i = 0; i < H; ++i) rope_.apply(q.data() + (t * H + i) * hd, fb.pos[t]);
      for (int i = 0; i < Hkv; ++i) rope_.apply(k.data() + t * kvw + i * hd, fb.pos[t]);
      std::memcpy(row.data(), k.data() + t * kvw, kvw * sizeof(float));
      std::memcpy(row.data() + kvw, v.data() + t * kvw, kvw * sizeof(float));
      store_kv_row(kv, fb, t, l, row.data());
    }
    std::vector<float> heads(static_cast<size_t>(T) * H * hd);
    const int rw = 2 * kvw;
    for (size_t s = 0; s < fb.seqs.size(); ++s) {
      const auto& sq = fb.seqs[s];
      load_kv_rows(kv, fb, static_cast<int>(s), l, ctx_);
      scores_.resize(static_cast<size_t>(pool_.size()));
      pool_.run(sq.count * H, [&](int64_t task, int thread) {
        const int64_t i = sq.first + task / H;
        const int head = static_cast<int>(task % H), kvh = head / group;
        const int32_t n_keys = fb.pos[i] + 1;
        auto& sc = scores_[thread];
        sc.resize(static_cast<size_t>(n_keys));
        const float* qh = q.data() + (i * H + head) * hd;
        for (int32_t kk = 0; kk < n_keys; ++kk) {
          const float* kr = ctx_.data() + static_cast<size_t>(kk) * rw + kvh * hd;
          sc[kk] = kernels::dot_f32(qh, kr, hd) * hp_.attn_scale;
        }
        kernels::softmax(sc.data(), n_keys);
        float* o = heads.data() + (i * H + head) * hd;
        std::fill(o, o + hd, 0.0f);
        for (int32_t kk = 0; kk < n_keys; ++kk)
          kernels::axpy(sc[kk], ctx_.data() + static_cast<size_t>(kk) * rw + kvw + kvh * hd, o, hd);
      });
    }
    kernels::matmul(L.wo, heads.data(), T, out, pool_, pf);
  }

  static void add_bias(float* x, const std::vector<float>& b) {
    for (size_t i = 0; i < b.size(); ++i) x[i] += b[i];
  }

  void bind_weights() {
    WeightSource& w = *w_;
    const int64_t D = hp_.n_embd;
    const int64_t qw = int64_t{hp_.n_heads} * hp_.head_dim, kvw = int64_t{hp_.n_kv_heads} * hp_.head_dim;
    base_ = bind_decoder_weights(w, hp_.n_layers, D, hp_.vocab_size);
    layers_.resize(hp_.n_layers);
    for (int l = 0; l < hp_.n_layers; ++l) {
      GqaLayer& L = layers_[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      L.wq = w.require(p + "attn_q.weight");
      L.wk = w.require(p + "attn_k.weight");
      L.wv = w.require(p + "attn_v.weight");
      L.wo = w.require(p + "attn_output.weight");
      expect_shape(w, L.wq, D, qw);
      expect_shape(w, L.wk, D, kvw);
      expect_shape(w, L.wv, D, kvw);
      expect_shape(w, L.wo, qw, D);
      L.bq = bind_vector(w, p + "attn_q.bias", qw, false);
      L.bk = bind_vector(w, p + "attn_k.bias", kvw, false);
      L.bv = bind_vector(w, p + "attn_v.bias", kvw, false);
      L.gate = w.require(p + "ffn_gate.weight");
      L.up = w.require(p + "ffn_up.weight");
      L.down = w.require(p + "ffn_down.weight");
      expect_shape(w, L.gate, D, -1);
      expect_shape(w, L.up, D, L.gate.n_rows());
      expect_shape(w, L.down, L.gate.n_rows(), D);
    }
  }

  Hparams hp_;
  std::shared_ptr<const void> keep_alive_;
  std::unique_ptr<WeightSource> w_;
  ThreadPool& pool_;
  Rope rope_;
  ModelInfo info_;
  DecoderWeights base_;
  std::vector<GqaLayer> layers_;
  std::vector<float> ctx_;
  std::vector<std::vector<float>> scores_;
};

}  // namespace

std::unique_ptr<Model> make_llama(Hparams hp, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                  std::string name, std::shared_ptr<const void> keep_alive) {
  return std::make_unique<Llama>(std::move(hp), std::move(weights), pool, std::move(name), std::move(keep_alive));
}

}  // namespace whale::model
