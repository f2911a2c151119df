// MLA attention over the paged latent cache, tiled. For each tile of up to kTileRows cache rows
// the rows are widened to f32 once (into an L2-sized buffer) and then used by every head of the
// query twice: once for the scores, once for the weighted sum. Softmax is computed online
// across tiles (running max m, running sum l, outputs rescaled by e^(m_old - m_new) when the max
// grows), so no score ever meets exp() unshifted and only one tile of scores is held at a time.
// When the batch has fewer queries than threads (decode), each query's keys are split into
// ranges of whole tiles handled by different tasks, and the partial (m, l, out) are merged.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "tensor/float_convert.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

constexpr int64_t kTileRows = 64;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A float buffer whose data starts on a 64-byte boundary: the tile kernels load whole cache
// lines (one zmm) per step, and a misaligned tile splits every load across two lines.
class AlignedFloats {
 public:
  float* resize(size_t n) {
    buf_.resize(n + kPad);
    const auto addr = reinterpret_cast<uintptr_t>(buf_.data());
    data_ = buf_.data() + ((64 - addr % 64) % 64) / sizeof(float);
    return data_;
  }
  float* data() const { return data_; }

 private:
  static constexpr size_t kPad = 64 / sizeof(float);
  std::vector<float> buf_;
  float* data_ = nullptr;
};

struct Scratch {
  AlignedFloats tile, qcat, scores;
  std::vector<float> m, l;
};

}  // namespace

void latent_row_f32(const KernelTable& k, const PagedLatentCache& c, const uint8_t* const* blocks, int64_t t,
                    int64_t w, float* out) {
  const uint8_t* src = latent_row_ptr(c, blocks, t);
  if (c.type == GgmlType::BF16) {  // pair layout: this row's values 4 bytes apart
    const auto* h = reinterpret_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < w; ++i) out[i] = bf16_to_f32(h[2 * i]);
    return;
  }
  if (c.type == GgmlType::F16) k.f16_to_f32(reinterpret_cast<const uint16_t*>(src), out, w);
  else if (c.type == GgmlType::Q8_0) k.q8_0_to_f32(src, out, w);
  else std::memcpy(out, src, static_cast<size_t>(w) * sizeof(float));
}

RowSoftmax softmax_row_bf16(const KernelTable& k, float* s, int64_t n, int64_t n_pad, float scale, uint16_t* e) {
  k.scale(s, scale, n);
  // Eight running maxima: one chain of dependent compares over thousands of keys cost more
  // than the tile products.
  const float neg_inf = -std::numeric_limits<float>::infinity();
  float mx8[8] = {neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int x = 0; x < 8; ++x) mx8[x] = std::max(mx8[x], s[j + x]);
  for (; j < n; ++j) mx8[0] = std::max(mx8[0], s[j]);
  const float mx = *std::max_element(mx8, mx8 + 8);
  const float sum = k.exp_sum(s, mx, n);
  std::fill(s + n, s + n_pad, 0.0f);  // padding keys: zero weight
  k.decode_bf16(GgmlType::F32, s, e, n_pad);
  return {mx, sum};
}

int32_t check_paged_queries(const PagedLatentCache& c, const MlaQueries& q, const char* who) {
  if (c.type != GgmlType::F32 && c.type != GgmlType::F16 && c.type != GgmlType::Q8_0 && c.type != GgmlType::BF16)
    fail(who, ": latent cache type ", type_name(c.type), " is not F32, F16, BF16 or Q8_0");
  if (q.n_queries < 0 || q.n_heads < 0 || c.kv_rank < 0 || c.rope_dim < 0 || c.block_rows <= 0 ||
      (c.type == GgmlType::BF16 && c.block_rows % 2 != 0))
    fail(who, ": bad size (queries ", q.n_queries, ", heads ", q.n_heads, ", kv_rank ", c.kv_rank,
         ", rope_dim ", c.rope_dim, ", block_rows ", c.block_rows, ")");
  if (q.n_queries == 0 || q.n_heads == 0) return 0;
  if (c.type == GgmlType::Q8_0 && (c.kv_rank + c.rope_dim) % 32 != 0)
    fail(who, ": Q8_0 cache rows of ", c.kv_rank + c.rope_dim, " values are not whole blocks of 32");
  if (!q.q_lat || !q.out || !q.n_keys || (c.rope_dim > 0 && !q.q_rope))
    fail(who, ": null query, key count or output pointer");
  int32_t max_keys = 0;
  for (int64_t i = 0; i < q.n_queries; ++i) {
    if (q.n_keys[i] < 0) fail(who, ": query ", i, " has negative key count ", q.n_keys[i]);
    max_keys = std::max(max_keys, q.n_keys[i]);
  }
  for (int64_t i = 0; i < q.n_queries; ++i)
    if (q.n_keys[i] > 0 && !(q.seq_blocks ? q.seq_blocks[i] : c.blocks))
      fail(who, ": null block table for query ", i, " with ", q.n_keys[i], " keys");
  return max_keys;
}

void mla_attention_paged_with(const KernelTable& k, const PagedLatentCache& c, const MlaQueries& q, float scale,
                              ThreadPool& pool) {
  const int32_t max_keys = check_paged_queries(c, q, "mla_attention_paged");
  const int64_t R = c.kv_rank, P = c.rope_dim, W = R + P, H = q.n_heads, NQ = q.n_queries;
  if (NQ == 0 || H == 0) return;

  // Key splits: only when there are fewer queries than tasks the pool can use.
  const int64_t want_tasks = pool.size() == 1 ? 1 : 2 * int64_t{pool.size()};
  const int64_t splits =
      std::clamp<int64_t>(ceil_div(want_tasks, NQ), 1, std::max<int64_t>(1, ceil_div(max_keys, kTileRows)));
  std::vector<float> part_o, part_m, part_l;
  if (splits > 1) {
    part_o.resize(static_cast<size_t>(NQ * splits * H * R));
    part_m.resize(static_cast<size_t>(NQ * splits * H));
    part_l.resize(static_cast<size_t>(NQ * splits * H));
  }
  std::vector<Scratch> scratch(static_cast<size_t>(pool.size()));
  const float neg_inf = -std::numeric_limits<float>::infinity();

  pool.run(NQ * splits, [&](int64_t task, int thread) {
    const int64_t i = task / splits, sp = task % splits;
    const int64_t n = q.n_keys[i];
    const uint8_t* const* blocks = q.seq_blocks ? q.seq_blocks[i] : c.blocks;
    const int64_t per = ceil_div(ceil_div(n, kTileRows), splits) * kTileRows;
    const int64_t t_begin = std::min(n, sp * per), t_end = std::min(n, t_begin + per);
    float* o = splits > 1 ? part_o.data() + task * H * R : q.out + i * H * R;
    Scratch& s = scratch[static_cast<size_t>(thread)];
    s.m.assign(static_cast<size_t>(H), neg_inf);
    s.l.assign(static_cast<size_t>(H), 0.0f);
    std::fill(o, o + H * R, 0.0f);
    if (t_begin < t_end) {
      s.tile.resize(static_cast<size_t>(kTileRows * W));
      s.scores.resize(static_cast<size_t>(H * kTileRows));
      s.qcat.resize(static_cast<size_t>(H * W));
      // [q_lat; q_rope] per head, pre-scaled, so one product against a whole row is the score.
      for (int64_t h = 0; h < H; ++h) {
        float* d = s.qcat.data() + h * W;
        const float* ql = q.q_lat + (i * H + h) * R;
        for (int64_t x = 0; x < R; ++x) d[x] = ql[x] * scale;
        const float* qr = q.q_rope + (i * H + h) * static_cast<int64_t>(q.q_rope_stride);
        for (int64_t x = 0; x < P; ++x) d[R + x] = qr[x] * scale;
      }
      for (int64_t t0 = t_begin; t0 < t_end; t0 += kTileRows) {
        const int64_t nr = std::min(kTileRows, t_end - t0);
        for (int64_t r = 0; r < nr; ++r) latent_row_f32(k, c, blocks, t0 + r, W, s.tile.data() + r * W);
        k.attn_scores(s.tile.data(), static_cast<size_t>(W), nr, s.qcat.data(), static_cast<size_t>(W), H,
                      s.scores.data(), kTileRows, W);
        for (int64_t h = 0; h < H; ++h) {
          float* sc = s.scores.data() + h * kTileRows;
          const float mx = *std::max_element(sc, sc + nr);
          const float m_new = std::max(s.m[h], mx);
          const float alpha = s.m[h] == neg_inf ? 0.0f : std::exp(s.m[h] - m_new);
          s.l[h] = s.l[h] * alpha + k.exp_sum(sc, m_new, nr);
          if (alpha != 1.0f) k.scale(o + h * R, alpha, R);
          s.m[h] = m_new;
        }
        k.attn_accumulate(s.tile.data(), static_cast<size_t>(W), nr, s.scores.data(), kTileRows, H, o,
                          static_cast<size_t>(R), R);
      }
    }
    if (splits > 1) {
      std::copy(s.m.begin(), s.m.end(), part_m.begin() + task * H);
      std::copy(s.l.begin(), s.l.end(), part_l.begin() + task * H);
    } else {
      for (int64_t h = 0; h < H; ++h)
        if (s.l[h] > 0) k.scale(o + h * R, 1.0f / s.l[h], R);
    }
  });
  if (splits == 1) return;
  // Merge the key ranges: out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s.
  for (int64_t i = 0; i < NQ; ++i)
    for (int64_t h = 0; h < H; ++h) {
      float M = neg_inf;
      for (int64_t sp = 0; sp < splits; ++sp) M = std::max(M, part_m[(i * splits + sp) * H + h]);
      float* out = q.out + (i * H + h) * R;
      std::fill(out, out + R, 0.0f);
      if (M == neg_inf) continue;
      float L = 0;
      for (int64_t sp = 0; sp < splits; ++sp) {
        const int64_t idx = (i * splits + sp) * H + h;
        if (part_m[idx] == neg_inf) continue;
        const float w = std::exp(part_m[idx] - M);
        L += w * part_l[idx];
        k.axpy(w, part_o.data() + idx * R, out, R);
      }
      k.scale(out, 1.0f / L, R);
    }
}

void mla_attention_paged(const PagedLatentCache& cache, const MlaQueries& q, float scale, ThreadPool& pool) {
  mla_attention_paged_with(active_table(), cache, q, scale, pool);
}

}  // namespace whale::kernels
