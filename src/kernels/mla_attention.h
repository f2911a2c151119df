// Absorbed-form MLA attention of one query token over the latent KV cache
// (deepseek-arch §2.7): for every head h and cached position t < n_ctx,
//   score[h][t] = scale · (q_lat[h] · latent[t] + q_rope[h] · rope[t])
//   P[h] = softmax(score[h]),  out[h] = Σ_t P[h][t] · latent[t]
// The caller applies W_UK^T before (q_lat) and W_UV after (out), and passes the causal length.
// f32 accumulation throughout; cache rows may be f32 or f16 (widened exactly).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"
#include "util/thread_pool.h"

namespace whale::kernels {

struct LatentCacheView {
  GgmlType type = GgmlType::F32;  // F32 or F16, both tensors
  const void* latent = nullptr;   // row t at latent + t * latent_stride elements, kv_rank wide
  const void* rope = nullptr;     // row t at rope + t * rope_stride elements, rope_dim wide
  size_t latent_stride = 0, rope_stride = 0;  // in elements
  int64_t kv_rank = 0, rope_dim = 0;
};

// q_lat: n_heads rows of kv_rank floats; q_rope: n_heads rows of rope_dim floats; out:
// n_heads rows of kv_rank floats. n_ctx == 0 gives zeros. Heads are split over `pool`; each
// group of heads reads every cache row once. Throws whale::Error for a cache type other than
// F32/F16, null pointers or negative sizes.
void mla_attention(const LatentCacheView& cache, int64_t n_ctx, const float* q_lat,
                   const float* q_rope, int64_t n_heads, float scale, float* out,
                   ThreadPool& pool);

// The same attention for a batch of queries over latent caches stored the way the KV pool stores
// them (one sequence's, or each query its own: MlaQueries::seq_blocks): fixed-size blocks of
// rows, each row the kv_rank latent values then the rope_dim rope values, all in `type` (F32,
// F16, or Q8_0 blocks of an f16 scale and 32 int8), row t % block_rows of a block at
// (t % block_rows) * row_bytes; or BF16 in pairs (model::KvType::BF16; block_rows even): rows 2p
// and 2p + 1 share the 2 * row_bytes at 2p * row_bytes, value i of the even row at element 2i,
// of the odd one at 2i + 1.
struct PagedLatentCache {
  GgmlType type = GgmlType::F16;
  const uint8_t* const* blocks = nullptr;  // blocks[b]: row 0 of block b (row t: block t / block_rows)
  int64_t block_rows = 0;                  // rows per block
  size_t row_bytes = 0;                    // bytes between consecutive rows of a block
  int64_t kv_rank = 0, rope_dim = 0;       // kv_rank + rope_dim a multiple of 32 for Q8_0
};

// Where row t of a paged latent cache starts (BF16 pairs: its first value; the others follow 4
// bytes apart), the cache's blocks being `blocks`.
inline const uint8_t* latent_row_ptr(const PagedLatentCache& c, const uint8_t* const* blocks, int64_t t) {
  const int64_t slot = t % c.block_rows;
  const uint8_t* block = blocks[t / c.block_rows];
  if (c.type == GgmlType::BF16) return block + static_cast<size_t>(slot / 2 * 2) * c.row_bytes + slot % 2 * 2;
  return block + static_cast<size_t>(slot) * c.row_bytes;
}

// Query i (< n_queries), head h (< n_heads) attends to cache rows [0, n_keys[i]):
//   q_lat  at q_lat  + (i * n_heads + h) * kv_rank
//   q_rope at q_rope + (i * n_heads + h) * q_rope_stride   (rope_dim floats)
//   out    at out    + (i * n_heads + h) * kv_rank
struct MlaQueries {
  int64_t n_queries = 0, n_heads = 0;
  const float* q_lat = nullptr;
  const float* q_rope = nullptr;
  size_t q_rope_stride = 0;
  const int32_t* n_keys = nullptr;
  float* out = nullptr;
  // Queries of several sequences in one call (a decode step of many streams is one parallel
  // run, not one per stream): query i reads the rows of block table seq_blocks[i]; nullptr means
  // every query reads cache.blocks.
  const uint8_t* const* const* seq_blocks = nullptr;
};

// Tiled, numerically safe form (an online softmax over tiles of rows: running max, rescaled
// sums), used for both prefill and decode. Work is split over (query, key range); a query with
// few queries in the batch gets its keys split across threads and the partial results merged.
// Rows are widened to f32 once per tile. Throws whale::Error for an unsupported cache type,
// null pointers or negative sizes; a query with n_keys 0 gets zeros.
void mla_attention_paged(const PagedLatentCache& cache, const MlaQueries& q, float scale, ThreadPool& pool);

// The prompt queries of one sequence (SeqStep::prompt) with tile products where the active
// table has them (AMX; mla_attention_prompt.cpp): query i < q.n_queries is at position
// first_pos + i and attends to rows [0, first_pos + i] of `cache` (this sequence's blocks;
// q.n_keys and q.seq_blocks are not used). Queries, cache rows and probabilities are rounded to
// bf16, sums and the softmax are f32 (the prompt tokens' numerics, matmul.h). Returns false and
// does nothing when the table has no tile products or kv_rank / kv_rank + rope_dim are not
// multiples of 32: the caller then uses mla_attention_paged. Throws whale::Error as that does.
bool mla_attention_prompt(const PagedLatentCache& cache, const MlaQueries& q, int64_t first_pos, float scale,
                          ThreadPool& pool);

// Queries as for mla_attention_paged (any mix of sequences and key counts) over a pair-layout
// BF16 cache (block_rows a multiple of 32), with tile products that read the cache in place where
// the active table has them (AMX; mla_attention_decode.cpp): queries rounded to bf16, scores
// summed in f32, an f32 softmax, probabilities rounded to bf16 for the weighted sum, f32 sums —
// the prompt queries' numerics (mla_attention_prompt). Keys are taken in blocks whose size
// depends on the query's key count alone, merged in order, so a query's result depends only on
// its own row and keys: not on the batch, the thread count or the pool's order. Returns false
// and does nothing for any other cache, without tile products, or when kv_rank / kv_rank +
// rope_dim are not multiples of 32 (the caller then uses mla_attention_paged); throws as
// mla_attention_paged does.
bool mla_attention_decode(const PagedLatentCache& cache, const MlaQueries& q, float scale, ThreadPool& pool);

}  // namespace whale::kernels
