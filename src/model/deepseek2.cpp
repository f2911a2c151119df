#include "model/deepseek2.h"

#include <algorithm>
#include <memory>
#include <cmath>
#include <cstring>

#include "kernels/matmul.h"
#include "kernels/mla_attention.h"
#include "kernels/ops.h"
#include "model/batch.h"
#include "model/layers.h"
#include "model/moe_router.h"
#include "model/rope.h"
#include "util/error.h"

namespace whale::model {
namespace {

struct MlaLayer {
  std::vector<float> q_a_norm, kv_a_norm;
  TensorView q_a, q_b, q;           // q_a/q_b with q-LoRA, else q
  TensorView kv_a;                  // [n_embd -> kv_lora + rope]
  // Head h's W_UK^T (kv_lora rows of qk_nope; q_abs = k_b · q_nope) starts at row h * k_b_stride
  // of k_b; its W_UV (v_head_dim rows of kv_lora; o = v_b · o_lat) at row h * v_b_stride of v_b.
  TensorView k_b, v_b;
  int64_t k_b_stride = 0, v_b_stride = 0;
  TensorView o;
  // dense FFN (l < n_dense_layers)
  TensorView gate, up, down;
  // MoE
  TensorView router;
  std::vector<float> sel_bias;      // empty when the model has none
  std::vector<TensorView> exp_gate, exp_up, exp_down;
  TensorView sh_gate, sh_up, sh_down;
  bool moe = false;
};

class DeepSeek2 final : public Model {
 public:
  DeepSeek2(Hparams hp, std::unique_ptr<WeightSource> w, ThreadPool& pool, std::string name,
            std::shared_ptr<const void> keep_alive)
      : hp_(std::move(hp)), keep_alive_(std::move(keep_alive)), w_(std::move(w)), pool_(pool), rope_(hp_.rope) {
    bind_weights();
    info_.architecture = "deepseek2";
    info_.name = std::move(name);
    info_.vocab_size = hp_.vocab_size;
    info_.n_layers = hp_.n_layers;
    info_.n_embd = hp_.n_embd;
    info_.n_ctx_train = hp_.n_ctx_train;
    info_.kv_layout = {hp_.n_layers, hp_.kv_values_per_token()};
    info_.preferred_kv = kernels::prompt_tile_products() && !layers_.empty() &&
                                 kernels::prompt_tiles_allowed(layers_.front().kv_a.type)
                             ? KvType::BF16
                             : KvType::F16;
    info_.weight_bytes = w_->total_bytes();
    info_.active_weight_bytes = active_bytes();
    info_.description = str_cat("deepseek2: ", hp_.n_layers, " layers (", hp_.n_dense_layers, " dense), ",
                                hp_.n_heads, " heads, ", hp_.q_lora_rank ? "q_lora " + std::to_string(hp_.q_lora_rank) : std::string("direct q"),
                                ", kv_lora ", hp_.kv_lora_rank, ", rope ", hp_.qk_rope, ", ", hp_.n_experts,
                                " experts (", hp_.n_experts_used, " active, ", hp_.n_shared_experts, " shared, ",
                                hp_.scoring == ScoringFunc::kSigmoid ? "sigmoid" : "softmax",
                                hp_.n_groups > 1 ? ", " + std::to_string(hp_.n_groups_used) + "/" + std::to_string(hp_.n_groups) + " groups" : std::string(),
                                "), KV ", hp_.kv_values_per_token(), " values/token/layer");
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
          const MlaLayer& L = layers_[l];
          if (L.moe) moe(L, xn, fb.n_tokens(), fb.prompt_from, out);
          else swiglu_ffn(L.gate, L.up, L.down, xn, fb.n_tokens(), out, pool_, fb.prompt_from);
        },
        logits, pool_);
  }

 private:
  // MLA for all tokens of the batch: writes [c; k_pe] of every new token to the cache, then
  // attends each query over its own sequence in the absorbed form (spec §2.7).
  void attention(int l, const FlatBatch& fb, KvPool& kv, const float* xn, float* out) {
    const MlaLayer& L = layers_[l];
    const int64_t T = fb.n_tokens();
    const int H = hp_.n_heads, nope = hp_.qk_nope, rope = hp_.qk_rope, qk = hp_.qk_head_dim();
    const int R = hp_.kv_lora_rank, V = hp_.v_head_dim, row = R + rope;

    // Queries [T x H*qk].
    std::vector<float>& q = q_;
    q.resize(static_cast<size_t>(T) * H * qk);
    // Compressed KV [T x (R + rope)] in the same pass as the queries (or their LoRA down-projection).
    kva_.resize(static_cast<size_t>(T) * row);
    if (hp_.q_lora_rank > 0) qa_.resize(static_cast<size_t>(T) * hp_.q_lora_rank);
    const int64_t pf = fb.prompt_from;  // rows from here on are prompt tokens (matmul.h)
    const kernels::MatmulJob first[2] = {
        hp_.q_lora_rank > 0 ? kernels::MatmulJob{&L.q_a, 0, -1, xn, 0, qa_.data(), 0, T, pf}
                            : kernels::MatmulJob{&L.q, 0, -1, xn, 0, q.data(), 0, T, pf},
        {&L.kv_a, 0, -1, xn, 0, kva_.data(), 0, T, pf}};
    kernels::matmul_batch(first, pool_);
    if (hp_.q_lora_rank > 0) {
      rmsnorm_rows(qa_.data(), L.q_a_norm.data(), qa_.data(), T, hp_.q_lora_rank, hp_.rms_eps, pool_);
      kernels::matmul(L.q_b, qa_.data(), T, q.data(), pool_, pf);
    }
    // Normalise the latent, rotate the shared rope key, cache (distinct rows: tokens in parallel).
    for_rows(pool_, T, row + int64_t{H} * qk, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* r = kva_.data() + t * row;
        rmsnorm_rows(r, L.kv_a_norm.data(), r, 1, R, hp_.rms_eps);
        rope_.apply(r + R, fb.pos[t]);
        store_kv_row(kv, fb, t, l, r);
        for (int hd = 0; hd < H; ++hd) rope_.apply(q.data() + (t * H + hd) * qk + nope, fb.pos[t]);
      }
    });
    // Absorbed queries q_abs^h = W_UK^hᵀ q_nope^h  [T x H x R]: all heads in one call.
    q_abs_.resize(static_cast<size_t>(T) * H * R);
    kernels::GroupedLayout kg;
    kg.n_groups = H, kg.group_rows = R, kg.group_row_stride = L.k_b_stride;
    kg.x_token_stride = int64_t{H} * qk, kg.x_group_stride = qk;
    kg.y_token_stride = int64_t{H} * R, kg.y_group_stride = R;
    kernels::matmul_grouped(L.k_b, kg, q.data(), T, q_abs_.data(), pool_, pf);
    // Scores over the latent cache, softmax, weighted latent sum: o_lat [T x H x R], read
    // straight from the cache blocks in their stored type.
    o_lat_.resize(static_cast<size_t>(T) * H * R);
    // All sequences' queries in one call: query i reads its own sequence's block table.
    block_ptrs_.resize(fb.seqs.size());
    seq_blocks_.resize(static_cast<size_t>(T));
    n_keys_.resize(static_cast<size_t>(T));
    for (size_t s = 0; s < fb.seqs.size(); ++s) {
      const auto& sq = fb.seqs[s];
      const int64_t n_blocks = (sq.n_ctx() + KvPool::kBlockTokens - 1) / KvPool::kBlockTokens;
      auto& ptrs = block_ptrs_[s];
      ptrs.resize(static_cast<size_t>(n_blocks));
      for (int64_t b = 0; b < n_blocks; ++b) ptrs[b] = kv.row(sq.blocks[b], l, 0);
      for (int64_t i = sq.first; i < sq.first + sq.count; ++i) {
        seq_blocks_[i] = ptrs.data();
        n_keys_[i] = fb.pos[i] + 1;  // causal: keys 0..pos
      }
    }
    kernels::PagedLatentCache cache;
    cache.type = kv.type() == KvType::F32    ? GgmlType::F32
                 : kv.type() == KvType::F16  ? GgmlType::F16
                 : kv.type() == KvType::BF16 ? GgmlType::BF16
                                             : GgmlType::Q8_0;
    cache.block_rows = KvPool::kBlockTokens;
    cache.row_bytes = kv.row_bytes();
    cache.kv_rank = R, cache.rope_dim = rope;
    kernels::MlaQueries mq;
    mq.n_queries = T, mq.n_heads = H;
    mq.q_lat = q_abs_.data();
    mq.q_rope = q.data() + nope;
    mq.q_rope_stride = static_cast<size_t>(qk);
    mq.n_keys = n_keys_.data();
    mq.out = o_lat_.data();
    mq.seq_blocks = seq_blocks_.data();
    // Prompt steps (the final run of sequences from fb.prompt_from) take the tile-product
    // attention where the CPU has it, one sequence at a time; like the matrix products
    // (matmul.h), F32/F16 models are evaluated exactly, quantised and BF16 ones in bf16. The
    // other queries take the f32 tiles in one call, exactly, unless the KV cache is BF16: its
    // values are bf16 already, and the decode attention reads them straight into tiles
    // (mla_attention_decode.cpp), which keeps decode at long contexts near the cost of
    // reading the cache. Without tile products everything takes the f32 tiles.
    const bool tiles = kernels::prompt_tiles_allowed(L.kv_a.type);
    int64_t paged_queries = T;
    for (size_t s = fb.seqs.size(); s-- > 0 && tiles;) {
      const auto& sq = fb.seqs[s];
      if (sq.first < fb.prompt_from) break;
      kernels::PagedLatentCache own = cache;
      own.blocks = block_ptrs_[s].data();
      kernels::MlaQueries pq = mq;
      pq.n_queries = sq.count;
      pq.q_lat = q_abs_.data() + sq.first * H * R;
      pq.q_rope = q.data() + nope + sq.first * H * qk;
      pq.out = o_lat_.data() + sq.first * H * R;
      pq.n_keys = nullptr;
      pq.seq_blocks = nullptr;
      if (!kernels::mla_attention_prompt(own, pq, sq.n_past, hp_.attn_scale, pool_)) break;
      paged_queries = sq.first;
    }
    mq.n_queries = paged_queries;
    if (paged_queries > 0 &&
        !(cache.type == GgmlType::BF16 && kernels::mla_attention_decode(cache, mq, hp_.attn_scale, pool_)))
      kernels::mla_attention_paged(cache, mq, hp_.attn_scale, pool_);
    // Per-head values o^h = W_UV^h o_lat^h, concatenated [T x H*V], then the output projection.
    heads_.resize(static_cast<size_t>(T) * H * V);
    kernels::GroupedLayout vg;
    vg.n_groups = H, vg.group_rows = V, vg.group_row_stride = L.v_b_stride;
    vg.x_token_stride = int64_t{H} * R, vg.x_group_stride = R;
    vg.y_token_stride = int64_t{H} * V, vg.y_group_stride = V;
    kernels::matmul_grouped(L.v_b, vg, o_lat_.data(), T, heads_.data(), pool_, pf);
    kernels::matmul(L.o, heads_.data(), T, out, pool_, pf);
  }

  // Routed experts (tokens grouped by expert, one product per expert) plus the shared experts.
  // Tokens from prompt_from on are prompt tokens; an expert's gathered rows keep token order, so
  // its prompt tokens are again a final run.
  void moe(const MlaLayer& L, const float* xn, int64_t T, int64_t prompt_from, float* out) {
    const int64_t D = hp_.n_embd;
    const int E = hp_.n_experts;
    std::vector<float> router_logits(static_cast<size_t>(T) * E);
    kernels::matmul(L.router, xn, T, router_logits.data(), pool_, prompt_from);
    RouterConfig rc{hp_.scoring, E, hp_.n_experts_used, hp_.n_groups, hp_.n_groups_used, hp_.norm_topk, hp_.route_scale};
    std::vector<std::vector<std::pair<int64_t, float>>> by_expert(E);  // (token, weight)
    for (int64_t t = 0; t < T; ++t) {
      auto routes = route_token(rc, {router_logits.data() + t * E, static_cast<size_t>(E)}, L.sel_bias);
      for (const auto& r : routes) by_expert[r.expert].push_back({t, r.weight});
    }
    // Inputs of expert e at x_off[e] in xs (its tokens' rows, gathered; a token routed to every
    // slot of a one-token step is read in place), outputs at y_off[e] in ys; shared experts last.
    std::vector<size_t> y_off(E + 1, 0);
    for (int e = 0; e < E; ++e) y_off[e + 1] = y_off[e] + by_expert[e].size() * static_cast<size_t>(D);
    // Written (gathered, multiplied) before read: no zero-fill.
    const auto xs = std::make_unique_for_overwrite<float[]>(T > 1 ? y_off[E] : 0);
    const auto ys = std::make_unique_for_overwrite<float[]>(y_off[E] + (hp_.n_shared_experts > 0 ? T * D : 0));
    // Gathered row j (over all experts, in expert order) is (expert, index in its list).
    std::vector<std::pair<int, int64_t>> gathered;
    if (T > 1) {
      for (int e = 0; e < E; ++e)
        for (size_t i = 0; i < by_expert[e].size(); ++i) gathered.push_back({e, static_cast<int64_t>(i)});
      for_rows(pool_, static_cast<int64_t>(gathered.size()), D, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
          const auto [e, i] = gathered[j];
          std::memcpy(xs.get() + y_off[e] + i * D, xn + by_expert[e][i].first * D, D * sizeof(float));
        }
      });
    }
    std::vector<FfnJob> ffns;
    for (int e = 0; e < E; ++e) {
      const auto& toks = by_expert[e];
      if (toks.empty()) continue;
      const int64_t n = static_cast<int64_t>(toks.size());
      const float* x = T > 1 ? xs.get() + y_off[e] : xn;
      const auto first_prompt = std::lower_bound(toks.begin(), toks.end(), prompt_from,
                                                 [](const auto& tw, int64_t t) { return tw.first < t; });
      ffns.push_back({&L.exp_gate[e], &L.exp_up[e], &L.exp_down[e], x, n, ys.get() + y_off[e],
                      first_prompt - toks.begin()});
    }
    if (hp_.n_shared_experts > 0)
      ffns.push_back({&L.sh_gate, &L.sh_up, &L.sh_down, xn, T, ys.get() + y_off[E], prompt_from});
    swiglu_ffns(ffns, pool_);
    // Per token, increasing expert id: the order in which the reference accumulates; shared
    // experts last. Tokens are independent, so they are combined in parallel.
    std::vector<std::vector<std::pair<const float*, float>>> parts(static_cast<size_t>(T));  // (row, weight)
    for (int e = 0; e < E; ++e)
      for (size_t i = 0; i < by_expert[e].size(); ++i)
        parts[by_expert[e][i].first].push_back({ys.get() + y_off[e] + i * D, by_expert[e][i].second});
    for_rows(pool_, T, D, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* o = out + t * D;
        std::fill(o, o + D, 0.0f);
        for (const auto& [y, wgt] : parts[t])
          for (int64_t j = 0; j < D; ++j) o[j] += wgt * y[j];
        if (hp_.n_shared_experts > 0) {
          const float* sh = ys.get() + y_off[E] + t * D;
          for (int64_t j = 0; j < D; ++j) o[j] += sh[j];
        }
      }
    });
  }

  void bind_weights() {
    const int64_t D = hp_.n_embd;
    const int H = hp_.n_heads, nope = hp_.qk_nope, qk = hp_.qk_head_dim(), R = hp_.kv_lora_rank, V = hp_.v_head_dim;
    base_ = bind_decoder_weights(*w_, hp_.n_layers, D, hp_.vocab_size);
    layers_.resize(hp_.n_layers);
    for (int l = 0; l < hp_.n_layers; ++l) {
      MlaLayer& L = layers_[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      if (hp_.q_lora_rank > 0) {
        L.q_a = w_->require(p + "attn_q_a.weight");
        expect_shape(*w_, L.q_a, D, hp_.q_lora_rank);
        L.q_a_norm = bind_vector(*w_, p + "attn_q_a_norm.weight", hp_.q_lora_rank);
        L.q_b = w_->require(p + "attn_q_b.weight");
        expect_shape(*w_, L.q_b, hp_.q_lora_rank, int64_t{H} * qk);
      } else {
        L.q = w_->require(p + "attn_q.weight");
        expect_shape(*w_, L.q, D, int64_t{H} * qk);
      }
      L.kv_a = w_->require(p + "attn_kv_a_mqa.weight");
      expect_shape(*w_, L.kv_a, D, R + hp_.qk_rope);
      L.kv_a_norm = bind_vector(*w_, p + "attn_kv_a_norm.weight", R);
      bind_kv_b(L, p, H, nope, R, V);
      L.o = w_->require(p + "attn_output.weight");
      expect_shape(*w_, L.o, int64_t{H} * V, D);
      L.moe = hp_.is_moe_layer(l);
      if (!L.moe) {
        L.gate = w_->require(p + "ffn_gate.weight");
        L.up = w_->require(p + "ffn_up.weight");
        L.down = w_->require(p + "ffn_down.weight");
        expect_shape(*w_, L.gate, D, L.gate.n_rows());
        expect_shape(*w_, L.up, D, L.gate.n_rows());
        expect_shape(*w_, L.down, L.gate.n_rows(), D);
        continue;
      }
      const int E = hp_.n_experts;
      L.router = w_->require(p + "ffn_gate_inp.weight");
      expect_shape(*w_, L.router, D, E);
      L.sel_bias = bind_vector(*w_, p + "exp_probs_b.bias", E, /*required=*/false);
      for (int e = 0; e < E; ++e) {
        L.exp_gate.push_back(w_->require_expert(l, "gate", e));
        L.exp_up.push_back(w_->require_expert(l, "up", e));
        L.exp_down.push_back(w_->require_expert(l, "down", e));
        expect_shape(*w_, L.exp_gate.back(), D, hp_.n_ff_exp);
        expect_shape(*w_, L.exp_up.back(), D, hp_.n_ff_exp);
        expect_shape(*w_, L.exp_down.back(), hp_.n_ff_exp, D);
      }
      if (hp_.n_shared_experts > 0) {
        const int64_t ffs = hp_.n_ff_exp * hp_.n_shared_experts;
        L.sh_gate = w_->require(p + "ffn_gate_shexp.weight");
        L.sh_up = w_->require(p + "ffn_up_shexp.weight");
        L.sh_down = w_->require(p + "ffn_down_shexp.weight");
        expect_shape(*w_, L.sh_gate, D, ffs);
        expect_shape(*w_, L.sh_up, D, ffs);
        expect_shape(*w_, L.sh_down, ffs, D);
      }
    }
    // Group rule follows the reference: top-2 sum with a selection bias, max without (§2.9).
  }

  // The three GGUF generations of MLA tensors (spec §3.2, §3.4).
  void bind_kv_b(MlaLayer& L, const std::string& p, int H, int nope, int R, int V) {
    auto k_b = w_->find(p + "attn_k_b.weight");
    auto v_b = w_->find(p + "attn_v_b.weight");
    if (k_b && v_b) {
      // 3-D [nope, R, H] or 2-D [nope, H*R]: byte-identical, head h = rows h*R .. h*R+R-1.
      if (k_b->ne[0] != nope || k_b->n_rows() != int64_t{H} * R)
        fail(w_->name(), ": tensor ", k_b->name, " has an unexpected shape for ", H, " heads");
      if (v_b->ne[0] != R || v_b->n_rows() != int64_t{H} * V)
        fail(w_->name(), ": tensor ", v_b->name, " has an unexpected shape for ", H, " heads");
      L.k_b = *k_b, L.k_b_stride = R;
      L.v_b = *v_b, L.v_b_stride = V;
      return;
    }
    // Legacy: only attn_kv_b [R, H*(nope+V)], rows per head [k_nope (nope); v (V)].
    TensorView kvb = w_->require(p + "attn_kv_b.weight");
    expect_shape(*w_, kvb, R, int64_t{H} * (nope + V));
    // W_UK^h is [nope x R]; the absorbed product needs its transpose [R x nope]: built once, all
    // heads in one buffer (head h at rows h*R ..). W_UV^h is used in place: rows base+nope ...
    std::vector<float> ukt(static_cast<size_t>(H) * R * nope);
    for (int hd = 0; hd < H; ++hd) {
      const int64_t base = int64_t{hd} * (nope + V);
      std::vector<float> uk = to_f32(row_slice(kvb, base, nope));
      float* dst = ukt.data() + static_cast<size_t>(hd) * R * nope;
      for (int d = 0; d < nope; ++d)
        for (int c = 0; c < R; ++c) dst[static_cast<size_t>(c) * nope + d] = uk[static_cast<size_t>(d) * R + c];
    }
    L.k_b = w_->own_f32(p + "attn_k_b(from kv_b)", std::move(ukt), {nope, int64_t{H} * R, 1, 1}, 2);
    L.k_b_stride = R;
    L.v_b = row_slice(kvb, nope, int64_t{H} * (nope + V) - nope);
    L.v_b_stride = nope + V;
  }

  uint64_t active_bytes() const {
    uint64_t b = base_.tok_embd.row_size() + base_.output.nbytes;  // one embedding row; the whole head
    for (const auto& L : layers_) {
      for (const TensorView* t : {&L.q_a, &L.q_b, &L.q, &L.kv_a, &L.o, &L.gate, &L.up, &L.down, &L.router,
                                  &L.sh_gate, &L.sh_up, &L.sh_down})
        b += t->nbytes;
      // Every head's W_UK^T and W_UV rows (not the rows between them in a legacy kv_b).
      b += L.k_b.row_size() * static_cast<uint64_t>(hp_.n_heads) * hp_.kv_lora_rank +
           L.v_b.row_size() * static_cast<uint64_t>(hp_.n_heads) * hp_.v_head_dim;
      if (L.moe && !L.exp_gate.empty())
        b += static_cast<uint64_t>(hp_.n_experts_used) *
             (L.exp_gate[0].nbytes + L.exp_up[0].nbytes + L.exp_down[0].nbytes);
    }
    return b;
  }

  Hparams hp_;
  std::shared_ptr<const void> keep_alive_;  // the mapped file(s) the views point into
  std::unique_ptr<WeightSource> w_;
  ThreadPool& pool_;
  Rope rope_;
  ModelInfo info_;
  DecoderWeights base_;
  std::vector<MlaLayer> layers_;
  // Scratch reused across calls (forward is not reentrant).
  std::vector<float> q_, qa_, kva_, q_abs_, o_lat_, heads_;
  std::vector<std::vector<const uint8_t*>> block_ptrs_;  // per sequence of the batch
  std::vector<const uint8_t* const*> seq_blocks_;        // per token: its sequence's block table
  std::vector<int32_t> n_keys_;
};

}  // namespace

std::unique_ptr<Model> make_deepseek2(Hparams hp, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                      std::string name, std::shared_ptr<const void> keep_alive) {
  return std::make_unique<DeepSeek2>(std::move(hp), std::move(weights), pool, std::move(name), std::move(keep_alive));
}

}  // namespace whale::model
