// MLA attention of decode queries (any batch of sequences) with tile products (AMX,
// kernel_table.h).
//
// A decoded token attends over its whole latent cache: per layer and head, 576 multiply-adds
// for the score and 512 for the weighted sum of every cached row. At 4096 rows and 16 heads
// that is 71 M multiply-adds per layer; as f32 vector FMAs on two cores it took ~1 ms per
// layer, a third of the time of a whole V2-Lite token. Tile products do it in a few percent of
// that, leaving the cost where it belongs: reading the cache (4.7 MB of f16 per layer).
//
// Work is (query, block of kMlaDecodeKeys keys) tasks. A task packs its block of rows once
// (pack_latent_bf16) and uses it for every head:
//   S = Q · Kᵀ        the query's heads (one panel of bf16 rows) against the block's keys;
//   m = max S, E = exp(scale·S - m), l = Σ E     per head, in f32;
//   O = bf16(E) · V   unnormalised, over the block's keys.
// Then each query's blocks are merged in order, out = Σ_b e^(m_b - M) O_b / Σ_b e^(m_b - M) l_b,
// so the result depends on the query and its keys alone, never on the rest of the batch or the
// threads (the f32 kernel's key splits do depend on the batch).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/aligned_array.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "tensor/float_convert.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Keys per task straight from a pair-layout cache: whole 32-row groups, at most about 8 tasks
// per query (each task's partial result costs a merge), at least 4 groups. It depends on the
// query's key count alone, so the result does too.
int64_t pair_unit_keys(int64_t n) { return 32 * std::max<int64_t>(4, ceil_div(ceil_div(n, 32), 8)); }

}  // namespace

bool mla_attention_decode_with(const KernelTable& kt, const PagedLatentCache& c, const MlaQueries& q, float scale,
                               ThreadPool& pool, size_t partial_budget) {
  const int64_t R = c.kv_rank, P = c.rope_dim, W = R + P, H = q.n_heads, NQ = q.n_queries;
  if (!kt.gemm_prompts || R <= 0 || P < 0 || R % kGemmChunk != 0 || W % kGemmChunk != 0) return false;
  const int32_t max_keys = check_paged_queries(c, q, "mla_attention_decode");
  if (NQ == 0 || H == 0) return true;
  // A pair-layout BF16 cache whose blocks hold whole 32-row groups is read straight into tiles;
  // any other is packed block by block.
  const bool pairs = c.type == GgmlType::BF16 && c.block_rows % kGemmChunk == 0;
  // Heads padded to whole panels (packed path) or tiles (pair path): the rows a product writes.
  const int64_t Hp = round_up(H, kGemmRows), H16 = round_up(H, 16), o_rows = pairs ? H16 : Hp;
  const auto unit_keys = [&](int64_t n) { return pairs ? pair_unit_keys(n) : kMlaDecodeKeys; };
  const int64_t max_unit = unit_keys(max_keys);

  // Each query's heads in the form the scores take them: bf16 panel rows [q_lat; q_rope]
  // (packed path; heads padded to whole panels, the padding rows read but never reaching a
  // result), or even/odd query tiles per 16 heads (pair path).

  const int64_t q_stride = gemm_panel_stride(W), q_words = pairs ? H16 / 16 * mla_pair_query_words(W) : Hp * q_stride;
  const auto qbuf = aligned_array<uint16_t>(static_cast<size_t>(NQ * q_words));
  pool.run(NQ, [&](int64_t i, int) {
    uint16_t* qi = qbuf.get() + i * q_words;
    if (pairs) {
      // Dword (r, h) of the even tile is the value then a zero word, of the odd tile the other
      // way round (little-endian: word 2h is the dword's low half). A group's rows are rounded
      // to bf16 by the table's converter first, then written tile row by tile row: rounding
      // and scattering value by value cost more than the attention over 128 keys.
      auto* dw = reinterpret_cast<uint32_t*>(qi);
      std::vector<uint16_t> rows(static_cast<size_t>(16 * W));  // one group of 16 heads
      for (int64_t h0 = 0; h0 < H16; h0 += 16) {
        for (int64_t h = 0; h < 16; ++h) {
          uint16_t* row = rows.data() + h * W;
          if (h0 + h >= H) {
            std::fill(row, row + W, uint16_t{0});
            continue;
          }
          const int64_t qh = i * H + h0 + h;
          kt.decode_bf16(GgmlType::F32, q.q_lat + qh * R, row, R);
          if (P > 0) kt.decode_bf16(GgmlType::F32, q.q_rope + static_cast<size_t>(qh) * q.q_rope_stride, row + R, P);
        }
        // Tile row (dim d) by tile row: two whole cache lines each.
        uint32_t* tiles = dw + h0 / 16 * mla_pair_query_words(W) / 2;
        for (int64_t d = 0; d < W; ++d) {
          uint32_t* even = tiles + (d / 16 * 2) * 256 + d % 16 * 16;
          for (int64_t h = 0; h < 16; ++h) {
            const uint32_t v = rows[static_cast<size_t>(h * W + d)];
            even[h] = v;
            even[256 + h] = v << 16;
          }
        }
      }
      return;
    }
    for (int64_t h = 0; h < Hp; ++h) {
      uint16_t* row = qi + h * q_stride;
      if (h >= H) {
        std::fill(row, row + W, uint16_t{0});
        continue;
      }
      kt.decode_bf16(GgmlType::F32, q.q_lat + (i * H + h) * R, row, R);
      if (P > 0) kt.decode_bf16(GgmlType::F32, q.q_rope + static_cast<size_t>(i * H + h) * q.q_rope_stride, row + R, P);
    }
  });

  const int64_t e_stride = gemm_panel_stride(max_unit);
  struct Scratch {
    AlignedArray<uint16_t> keys, values, e;
    AlignedArray<float> s;
    std::vector<const uint8_t*> groups, next_groups;  // pair path: this block's and the next one's
  };
  std::vector<Scratch> scratch(static_cast<size_t>(pool.size()));
  for (auto& s : scratch) {
    if (!pairs) {
      s.keys = aligned_array<uint16_t>(static_cast<size_t>(max_unit * W));
      s.values = aligned_array<uint16_t>(static_cast<size_t>(R * max_unit));
    }
    s.e = aligned_array<uint16_t>(static_cast<size_t>(Hp * e_stride));
    std::fill_n(s.e.get(), Hp * e_stride, uint16_t{0});  // rows of padding heads stay zero
    s.s = aligned_array<float>(static_cast<size_t>(Hp * max_unit));
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const size_t per_block = static_cast<size_t>(o_rows * R + 2 * H) * sizeof(float);
  std::vector<int64_t> first_block(static_cast<size_t>(NQ) + 1);
  std::vector<float> part_m, part_l;
  AlignedArray<float> part_o;
  int64_t part_o_blocks = 0;

  // Scores of heads [h0, h0 + nh) in S (rows n_pad apart) to unnormalised bf16 probabilities
  // in the e panel (rows e_stride apart), and their max and sum.
  const auto softmax = [&](float* S, int64_t h0, int64_t nh, int64_t n, int64_t n_pad, uint16_t* e, int64_t es,
                           float* m, float* l) {
    for (int64_t h = h0; h < h0 + nh; ++h) {
      float* s = S + h * n_pad;
      kt.scale(s, scale, n);
      // Eight running maxima: one chain of dependent compares over thousands of keys cost
      // more than the tile products.
      float mx8[8] = {neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf};
      int64_t j = 0;
      for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; ++k) mx8[k] = std::max(mx8[k], s[j + k]);
      for (; j < n; ++j) mx8[0] = std::max(mx8[0], s[j]);
      const float mx = *std::max_element(mx8, mx8 + 8);
      m[h] = mx;
      l[h] = kt.exp_sum(s, mx, n);
      std::fill(s + n, s + n_pad, 0.0f);  // padding keys: zero weight
      kt.decode_bf16(GgmlType::F32, s, e + h * es, n_pad);
    }
  };

  for (int64_t q0 = 0; q0 < NQ;) {
    // Partial results (one block's O, m, l per head) are held for a wave [q0, q1) of queries at
    // a time: a batch of many long V3 queries (128 heads) would otherwise hold 256 KB per block
    // of each. The wave's blocks are tasks first_block[i] .. first_block[i + 1] of query i.
    int64_t q1 = q0, n_blocks = 0;
    first_block[static_cast<size_t>(q0)] = 0;
    while (q1 < NQ) {
      const int64_t nb = ceil_div(q.n_keys[q1], unit_keys(q.n_keys[q1]));
      if (q1 > q0 && static_cast<size_t>(n_blocks + nb) * per_block > partial_budget) break;
      n_blocks += nb;
      first_block[static_cast<size_t>(++q1)] = n_blocks;
    }
    if (n_blocks > part_o_blocks) {  // every row a result reads is written first
      part_o = aligned_array<float>(static_cast<size_t>(n_blocks * o_rows * R));
      part_o_blocks = n_blocks;
    }
    part_m.resize(static_cast<size_t>(n_blocks * H));
    part_l.resize(static_cast<size_t>(n_blocks * H));

    // One block (b, of query i) of keys: its partial O, m, l. For the pair path, `next` (and
    // n_next) are the first groups of the block this thread takes next, fetched meanwhile.
    const auto run_block = [&](int64_t b, int64_t i, int thread, const uint8_t* const* next, int64_t n_next) {
      const int64_t uk = unit_keys(q.n_keys[i]), t0 = (b - first_block[static_cast<size_t>(i)]) * uk;
      const int64_t n = std::min<int64_t>(uk, q.n_keys[i] - t0), n_pad = round_up(n, kGemmChunk);
      const uint8_t* const* blocks = q.seq_blocks ? q.seq_blocks[i] : c.blocks;
      Scratch& sc = scratch[static_cast<size_t>(thread)];
      const uint16_t* qi = qbuf.get() + i * q_words;
      float* S = sc.s.get();
      float* m = part_m.data() + b * H;
      float* l = part_l.data() + b * H;
      float* o = part_o.get() + b * o_rows * R;
      const int64_t es = gemm_panel_stride(n_pad);
      if (pairs) {
        const auto& groups = sc.groups;
        for (int64_t h0 = 0; h0 < H; h0 += 16) {
          kt.mla_pair_scores(groups.data(), static_cast<int64_t>(groups.size()), c.row_bytes, W,
                             qi + h0 / 16 * mla_pair_query_words(W), S + h0 * n_pad, static_cast<size_t>(n_pad));
          softmax(S, h0, std::min<int64_t>(16, H - h0), n, n_pad, sc.e.get(), es, m, l);
          const bool last = h0 + 16 >= H;
          kt.mla_pair_values(groups.data(), static_cast<int64_t>(groups.size()), c.row_bytes, R, sc.e.get() + h0 * es,
                             static_cast<size_t>(es), o + h0 * R, static_cast<size_t>(R), last ? next : nullptr,
                             last ? n_next : 0);
        }
        return;
      }
      const uint8_t* rows[kGemmChunk];
      for (int64_t k0 = 0; k0 < n_pad; k0 += kGemmChunk) {
        const int64_t valid = std::min<int64_t>(kGemmChunk, n - k0);
        for (int64_t j = 0; j < valid; ++j) rows[j] = latent_row_ptr(c, blocks, t0 + k0 + j);
        kt.pack_latent_bf16(rows, c.type, valid, R, W, sc.keys.get() + k0 * W, sc.values.get() + k0 / kGemmChunk * 512,
                            static_cast<size_t>(n_pad / kGemmChunk * 512));
      }
      for (int64_t h0 = 0; h0 < H; h0 += kGemmRows)
        kt.gemm_bf16(qi + h0 * q_stride, sc.keys.get(), W, W / kGemmChunk, n_pad, std::min(kGemmRows, H - h0),
                     S + h0 * n_pad, static_cast<size_t>(n_pad), true);
      softmax(S, 0, H, n, n_pad, sc.e.get(), es, m, l);
      for (int64_t h0 = 0; h0 < H; h0 += kGemmRows)
        kt.gemm_bf16(sc.e.get() + h0 * es, sc.values.get(), n_pad, n_pad / kGemmChunk, R, std::min(kGemmRows, H - h0),
                     o + h0 * R, static_cast<size_t>(R), true);
    };
    // The 32-row groups of block b of query i, in order.
    const auto block_groups = [&](int64_t b, int64_t i, std::vector<const uint8_t*>& out) {
      const int64_t uk = unit_keys(q.n_keys[i]), t0 = (b - first_block[static_cast<size_t>(i)]) * uk;
      const int64_t n = std::min<int64_t>(uk, q.n_keys[i] - t0);
      const uint8_t* const* blocks = q.seq_blocks ? q.seq_blocks[i] : c.blocks;
      out.resize(static_cast<size_t>(ceil_div(n, kGemmChunk)));
      for (size_t j = 0; j < out.size(); ++j) out[j] = latent_row_ptr(c, blocks, t0 + 32 * static_cast<int64_t>(j));
    };
    // Tasks: each query's blocks in up to pool.size() runs of consecutive blocks, so a thread
    // knows which block it reads next. Which thread takes which block changes no result.
    struct Run {
      int64_t query, b0, b1;
    };
    std::vector<Run> runs;
    for (int64_t i = q0; i < q1; ++i) {
      const int64_t b0 = first_block[static_cast<size_t>(i)], nb = first_block[static_cast<size_t>(i) + 1] - b0;
      const int64_t parts = std::min<int64_t>(nb, pool.size());
      for (int64_t p = 0; p < parts; ++p) runs.push_back({i, b0 + p * nb / parts, b0 + (p + 1) * nb / parts});
    }
    pool.run(static_cast<int64_t>(runs.size()), [&](int64_t r, int thread) {
      const Run& run = runs[static_cast<size_t>(r)];
      Scratch& sc = scratch[static_cast<size_t>(thread)];
      if (pairs) block_groups(run.b0, run.query, sc.groups);
      for (int64_t b = run.b0; b < run.b1; ++b) {
        const bool more = pairs && b + 1 < run.b1;
        if (more) block_groups(b + 1, run.query, sc.next_groups);
        run_block(b, run.query, thread, more ? sc.next_groups.data() : nullptr,
                  more ? std::min<int64_t>(2, static_cast<int64_t>(sc.next_groups.size())) : 0);
        if (more) std::swap(sc.groups, sc.next_groups);
      }
    });

    // Merge each (query, head) over its blocks, in block order.
    pool.run((q1 - q0) * H, [&](int64_t task, int) {
      const int64_t i = q0 + task / H, h = task % H;
      const int64_t b0 = first_block[static_cast<size_t>(i)], b1 = first_block[static_cast<size_t>(i) + 1];
      float* out = q.out + (i * H + h) * R;
      std::fill(out, out + R, 0.0f);
      if (b0 == b1) return;  // no keys
      float M = neg_inf;
      for (int64_t b = b0; b < b1; ++b) M = std::max(M, part_m[static_cast<size_t>(b * H + h)]);
      float L = 0;
      for (int64_t b = b0; b < b1; ++b) {
        const float w = std::exp(part_m[static_cast<size_t>(b * H + h)] - M);
        L += w * part_l[static_cast<size_t>(b * H + h)];
        kt.axpy(w, part_o.get() + (b * o_rows + h) * R, out, R);
      }
      kt.scale(out, 1.0f / L, R);
    });
    q0 = q1;
  }
  return true;
}

bool mla_attention_decode(const PagedLatentCache& cache, const MlaQueries& q, float scale, ThreadPool& pool) {
  return mla_attention_decode_with(active_table(), cache, q, scale, pool);
}

}  // namespace whale::kernels
