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

}  // namespace whale::kernels
