// MLA attention of decode queries (any batch of sequences) over a pair-layout BF16 cache, with
// tile products read straight from the cache (AMX; MlaPairScoresFn / MlaPairValuesFn in
// kernel_table.h).
//
// A decoded token attends over its whole latent cache: per layer and head, 576 multiply-adds
// for the score and 512 for the weighted sum of every cached row. At 4096 rows and 16 heads
// that is 71 M multiply-adds per layer; as f32 vector FMAs on two cores it took ~1 ms per
// layer, a third of the time of a whole V2-Lite token. Tile products do it in a fraction of
// that, which leaves the cost where it belongs: reading the cache (4.7 MB per layer). Because
// the cache is stored the way tiles load it (model::KvType::BF16), nothing is converted or
// copied per token.
//
// Work is blocks of whole 32-row groups (pair_block_keys), per block and 16 heads:
//   S = Q · Kᵀ        scores (the query as two tiles per 16 values: even and odd rows);
//   m = max S, E = exp(scale·S - m), l = Σ E     per head, in f32;
//   O = bf16(E) · V   unnormalised, over the block's keys.
// Each query's blocks are merged in order, out = Σ_b e^(m_b - M) O_b / Σ_b e^(m_b - M) l_b, and
// the block size depends on the query's key count alone, so the result depends on the query
// and its keys alone: never on the rest of the batch or the threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/aligned_array.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Keys per block: whole 32-row groups, at most about 8 blocks per query (each block's partial
// result costs a merge), at least 4 groups.
int64_t pair_block_keys(int64_t n) { return 32 * std::max<int64_t>(4, ceil_div(ceil_div(n, 32), 8)); }

}  // namespace

bool mla_attention_decode_with(const KernelTable& kt, const PagedLatentCache& c, const MlaQueries& q, float scale,
                               ThreadPool& pool, size_t partial_budget) {
  const int64_t R = c.kv_rank, P = c.rope_dim, W = R + P, H = q.n_heads, NQ = q.n_queries;
  if (!kt.gemm_prompts || c.type != GgmlType::BF16 || c.block_rows % kGemmChunk != 0 || R <= 0 || P < 0 ||
      R % kGemmChunk != 0 || W % kGemmChunk != 0)
    return false;
  const int32_t max_keys = check_paged_queries(c, q, "mla_attention_decode");
  if (NQ == 0 || H == 0) return true;
  const int64_t H16 = round_up(H, 16), max_block = pair_block_keys(max_keys);

  // Each query's heads as even/odd query tiles per 16 heads (padding heads zero).
  const int64_t q_words = H16 / 16 * mla_pair_query_words(W);
  const auto qbuf = aligned_array<uint16_t>(static_cast<size_t>(NQ * q_words));
  pool.run(NQ, [&](int64_t i, int) {
    // Dword (r, h) of the even tile is the value then a zero word, of the odd tile the other
    // way round (little-endian: word 2h is the dword's low half). A group's rows are rounded
    // to bf16 by the table's converter first, then written tile row by tile row: rounding
    // and scattering value by value cost more than the attention over 128 keys.
    auto* dw = reinterpret_cast<uint32_t*>(qbuf.get() + i * q_words);
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
  });

  struct Scratch {
    AlignedArray<uint16_t> e;  // probabilities of 16 heads, rows gemm_panel_stride(keys) apart
    AlignedArray<float> s;     // scores of 16 heads, rows n_pad apart
    std::vector<const uint8_t*> groups, next_groups;  // this block's groups and the next one's
    AlignedArray<uint8_t> tail, next_tail;  // copies of a partial last group, unused rows zero
  };
  const size_t group_bytes = 32 * c.row_bytes;
  std::vector<Scratch> scratch(static_cast<size_t>(pool.size()));
  for (auto& s : scratch) {
    s.tail = aligned_array<uint8_t>(group_bytes);
    s.next_tail = aligned_array<uint8_t>(group_bytes);
    s.e = aligned_array<uint16_t>(static_cast<size_t>(16 * gemm_panel_stride(max_block)));
    std::fill_n(s.e.get(), 16 * gemm_panel_stride(max_block), uint16_t{0});  // padding heads' rows: finite
    s.s = aligned_array<float>(static_cast<size_t>(16 * max_block));
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const size_t per_block = static_cast<size_t>(H16 * R + 2 * H) * sizeof(float);
  std::vector<int64_t> first_block(static_cast<size_t>(NQ) + 1);
  std::vector<float> part_m, part_l;
  AlignedArray<float> part_o;
  int64_t part_o_blocks = 0;



  for (int64_t q0 = 0; q0 < NQ;) {
    // Partial results (one block's O, m, l per head) are held for a wave [q0, q1) of queries at
    // a time: a batch of many long V3 queries (128 heads) would otherwise hold 256 KB per block
    // of each. The wave's blocks are first_block[i] .. first_block[i + 1] of query i.
    int64_t q1 = q0, n_blocks = 0;
    first_block[static_cast<size_t>(q0)] = 0;
    while (q1 < NQ) {
      const int64_t nb = ceil_div(q.n_keys[q1], pair_block_keys(q.n_keys[q1]));
      if (q1 > q0 && static_cast<size_t>(n_blocks + nb) * per_block > partial_budget) break;
      n_blocks += nb;
      first_block[static_cast<size_t>(++q1)] = n_blocks;
    }
    if (n_blocks > part_o_blocks) {  // every row a result reads is written first
      part_o = aligned_array<float>(static_cast<size_t>(n_blocks * H16 * R));
      part_o_blocks = n_blocks;
    }
    part_m.resize(static_cast<size_t>(n_blocks * H));
    part_l.resize(static_cast<size_t>(n_blocks * H));

    // The 32-row groups of block b of query i, in order, and its key count. A partial last
    // group is copied to `tail` with its unused rows zero: they get zero probability, but the
    // weighted sum still multiplies them, and rows past a sequence's end may hold anything a
    // block's previous owner left (a NaN there would reach this query's result).
    const auto block_groups = [&](int64_t b, int64_t i, std::vector<const uint8_t*>& out, uint8_t* tail) {
      const int64_t bk = pair_block_keys(q.n_keys[i]), t0 = (b - first_block[static_cast<size_t>(i)]) * bk;
      const int64_t n = std::min<int64_t>(bk, q.n_keys[i] - t0);
      const uint8_t* const* blocks = q.seq_blocks ? q.seq_blocks[i] : c.blocks;
      out.resize(static_cast<size_t>(ceil_div(n, kGemmChunk)));
      for (size_t j = 0; j < out.size(); ++j) out[j] = latent_row_ptr(c, blocks, t0 + 32 * static_cast<int64_t>(j));
      if (const int64_t valid = n % kGemmChunk; valid > 0) {
        const size_t pair_bytes = 2 * c.row_bytes;
        std::memcpy(tail, out.back(), static_cast<size_t>(valid / 2) * pair_bytes);
        std::memset(tail + static_cast<size_t>(valid / 2) * pair_bytes, 0, group_bytes - static_cast<size_t>(valid / 2) * pair_bytes);
        if (valid % 2 == 1) {  // the last pair's even row only
          const auto* src = reinterpret_cast<const uint16_t*>(out.back() + static_cast<size_t>(valid / 2) * pair_bytes);
          auto* dst = reinterpret_cast<uint16_t*>(tail + static_cast<size_t>(valid / 2) * pair_bytes);
          for (int64_t d = 0; d < W; ++d) dst[2 * d] = src[2 * d];
        }
        out.back() = tail;
      }
      return n;
    };
    // Block b of query i (its groups in sc.groups): partial O, m, l. `next` (n_next groups) is
    // what this thread reads after it, fetched while the weighted sum re-reads this block.
    const auto run_block = [&](int64_t b, int64_t i, Scratch& sc, int64_t n, const uint8_t* const* next,
                               int64_t n_next) {
      const int64_t n_pad = round_up(n, kGemmChunk), es = gemm_panel_stride(n_pad);
      const uint16_t* qi = qbuf.get() + i * q_words;
      const auto n_groups = static_cast<int64_t>(sc.groups.size());
      for (int64_t h0 = 0; h0 < H; h0 += 16) {
        const bool last = h0 + 16 >= H;
        kt.mla_pair_scores(sc.groups.data(), n_groups, c.row_bytes, W, qi + h0 / 16 * mla_pair_query_words(W),
                           sc.s.get(), static_cast<size_t>(n_pad));
        for (int64_t h = h0; h < std::min(H, h0 + 16); ++h) {
          const RowSoftmax r = softmax_row_bf16(kt, sc.s.get() + (h - h0) * n_pad, n, n_pad, scale,
                                                sc.e.get() + (h - h0) * es);
          part_m[static_cast<size_t>(b * H + h)] = r.max;
          part_l[static_cast<size_t>(b * H + h)] = r.sum;
        }
        kt.mla_pair_values(sc.groups.data(), n_groups, c.row_bytes, R, sc.e.get(), static_cast<size_t>(es),
                           part_o.get() + (b * H16 + h0) * R, static_cast<size_t>(R), last ? next : nullptr,
                           last ? n_next : 0);
      }
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
      int64_t n = block_groups(run.b0, run.query, sc.groups, sc.tail.get());
      for (int64_t b = run.b0; b < run.b1; ++b) {
        const bool more = b + 1 < run.b1;
        const int64_t n_next = more ? block_groups(b + 1, run.query, sc.next_groups, sc.next_tail.get()) : 0;
        run_block(b, run.query, sc, n, more ? sc.next_groups.data() : nullptr,
                  more ? std::min<int64_t>(2, static_cast<int64_t>(sc.next_groups.size())) : 0);
        if (more) std::swap(sc.groups, sc.next_groups), std::swap(sc.tail, sc.next_tail), n = n_next;
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
        kt.axpy(w, part_o.get() + (b * H16 + h) * R, out, R);
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
