// MLA attention of one sequence's prompt queries with tile products (AMX, kernel_table.h).
//
// A prompt of n tokens costs n²/2 · heads · (576 + 512) multiply-adds of attention, which from a
// few thousand tokens on outweighs the weights; on the f32 tiles of mla_attention_paged it is
// the larger part of a long prompt's time. Here all heads of a block of query tokens are rows of
// one matrix (the latent cache is shared by the heads), and both products are tile products:
//   S = Q · Kᵀ   rows (token, head) x keys, over the 576 latent + rope values;
//   softmax of each row over its causal keys, in f32 (scaled, max-shifted);
//   O = E · V / Σ E   rows x 512 latent values, over the keys (E the unnormalised exponentials).
// K is packed once per call (keys as the "tokens" of the packed operand), V once per call as
// the transposed operand (latent dims as tokens, keys as the summed index); Q and P are decoded
// per block of rows into bf16 panels. Queries, cache rows and exponentials are rounded to bf16,
// sums are f32 — the same numerics as the prompt tokens' matrix products. A query's result
// depends only on its own row and the cache (zero probabilities pad the causal tail), so how
// the prompt is split into chunks or blocks does not change it.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/aligned_array.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

constexpr int64_t kRowBlock = 64;  // query rows (token, head) per task

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

}  // namespace

bool mla_attention_prompt_with(const KernelTable& kt, const PagedLatentCache& c, const MlaQueries& q,
                               int64_t first_pos, float scale, ThreadPool& pool) {
  const int64_t R = c.kv_rank, P = c.rope_dim, W = R + P, H = q.n_heads, NQ = q.n_queries;
  if (!kt.gemm_prompts || R <= 0 || P < 0 || R % kGemmChunk != 0 || W % kGemmChunk != 0) return false;
  if (c.type != GgmlType::F32 && c.type != GgmlType::F16 && c.type != GgmlType::Q8_0 && c.type != GgmlType::BF16)
    fail("mla_attention_prompt: latent cache type ", type_name(c.type), " is not F32, F16, BF16 or Q8_0");
  if (NQ < 0 || H < 0 || first_pos < 0 || c.block_rows <= 0 || (c.type == GgmlType::BF16 && c.block_rows % 2 != 0))
    fail("mla_attention_prompt: bad size (queries ", NQ, ", heads ", H, ", first position ", first_pos, ")");
  if (NQ == 0 || H == 0) return true;
  if (!c.blocks || !q.q_lat || !q.q_rope || !q.out) fail("mla_attention_prompt: null pointer");

  const int64_t n_keys = first_pos + NQ, keys_pad = round_up(n_keys, kGemmTokens);
  const int64_t key_chunks = keys_pad / kGemmChunk, w_chunks = W / kGemmChunk;
  // K: key groups of 16 keys, w_chunks tiles each. V: groups of 16 latent dims, key_chunks
  // tiles each; tile row p of chunk c holds keys 32c + 2p, 32c + 2p + 1 of the group's dims.
  const auto kpk = aligned_array<uint16_t>(static_cast<size_t>(keys_pad * W));
  const auto vpk = aligned_array<uint16_t>(static_cast<size_t>(R * keys_pad));
  pool.run(key_chunks, [&](int64_t kb, int) {
    const int64_t k0 = kb * kGemmTokens, valid = std::min<int64_t>(kGemmTokens, n_keys - k0);
    const uint8_t* rows[kGemmTokens];
    for (int64_t j = 0; j < valid; ++j)
      rows[j] = latent_row_ptr(c, c.blocks, k0 + j);
    kt.pack_latent_bf16(rows, c.type, valid, R, W, kpk.get() + k0 * W, vpk.get() + kb * 512,
                        static_cast<size_t>(key_chunks * 512));
  });

  struct Scratch {
    AlignedArray<float> qcat, s;
    AlignedArray<uint16_t> qpanel, ppanel;
  };
  const int64_t q_stride = gemm_panel_stride(W), p_stride_max = gemm_panel_stride(keys_pad);
  std::vector<Scratch> scratch(static_cast<size_t>(pool.size()));
  for (auto& s : scratch) {
    s.qcat = aligned_array<float>(static_cast<size_t>(kRowBlock * W));
    s.s = aligned_array<float>(static_cast<size_t>(kRowBlock * keys_pad));
    s.qpanel = aligned_array<uint16_t>(static_cast<size_t>(kRowBlock * q_stride));
    s.ppanel = aligned_array<uint16_t>(static_cast<size_t>(kRowBlock * p_stride_max));
  }
  const int64_t n_rows = NQ * H;
  pool.run((n_rows + kRowBlock - 1) / kRowBlock, [&](int64_t task, int thread) {
    Scratch& sc = scratch[thread];
    const int64_t r0 = task * kRowBlock, nr = std::min(kRowBlock, n_rows - r0);
    // Keys up to the block's last query, rounded to whole chunks; later keys are never needed.
    const int64_t nk_pad = round_up(first_pos + (r0 + nr - 1) / H + 1, kGemmTokens);
    const int64_t p_stride = gemm_panel_stride(nk_pad);
    for (int64_t i = 0; i < nr; ++i) {
      const int64_t r = r0 + i;
      float* row = sc.qcat.get() + i * W;
      std::memcpy(row, q.q_lat + r * R, static_cast<size_t>(R) * sizeof(float));
      std::memcpy(row + R, q.q_rope + static_cast<size_t>(r) * q.q_rope_stride, static_cast<size_t>(P) * sizeof(float));
      kt.decode_bf16(GgmlType::F32, row, sc.qpanel.get() + i * q_stride, W);
    }
    float* S = sc.s.get();
    for (int64_t h0 = 0; h0 < nr; h0 += kGemmRows)  // S[row][key] for keys [0, nk_pad)
      kt.gemm_bf16(sc.qpanel.get() + h0 * q_stride, kpk.get(), W, w_chunks, nk_pad, std::min(kGemmRows, nr - h0),
                   S + h0 * nk_pad, static_cast<size_t>(nk_pad), true);
    // Unnormalised probabilities e_j = exp(s_j - max) in (0, 1]; each output row is divided by
    // its sum afterwards, which touches 512 values per row instead of every key.
    float inv[kRowBlock];
    for (int64_t i = 0; i < nr; ++i) {
      float* s = S + i * nk_pad;
      const int64_t nk = first_pos + (r0 + i) / H + 1;  // causal: keys 0 .. the query's position
      inv[i] = 1.0f / softmax_row_bf16(kt, s, nk, nk_pad, scale, sc.ppanel.get() + i * p_stride).sum;
    }
    for (int64_t h0 = 0; h0 < nr; h0 += kGemmRows)  // O[row][dim] = E · V over keys [0, nk_pad)
      kt.gemm_bf16(sc.ppanel.get() + h0 * p_stride, vpk.get(), nk_pad, key_chunks, R, std::min(kGemmRows, nr - h0),
                   q.out + (r0 + h0) * R, static_cast<size_t>(R), true);
    for (int64_t i = 0; i < nr; ++i) kt.scale(q.out + (r0 + i) * R, inv[i], R);
  });
  return true;
}

bool mla_attention_prompt(const PagedLatentCache& cache, const MlaQueries& q, int64_t first_pos, float scale,
                          ThreadPool& pool) {
  return mla_attention_prompt_with(active_table(), cache, q, first_pos, scale, pool);
}

}  // namespace whale::kernels
