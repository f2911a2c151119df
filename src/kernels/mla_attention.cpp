// MLA decode attention over the latent cache. Heads are processed in groups of kHeadGroup:
// for each cached position the group computes its scores from the same latent row (one read
// from memory, then L1 hits), and the weighted sum walks the rows once more with the group's
// outputs (kHeadGroup · kv_rank floats, ~16 KB) held in L1.
#include "kernels/mla_attention.h"

#include <algorithm>
#include <vector>

#include "kernels/kernel_table.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

constexpr int64_t kHeadGroup = 8;

}  // namespace

void mla_attention_with(const KernelTable& k, const LatentCacheView& c, int64_t n_ctx,
                        const float* q_lat, const float* q_rope, int64_t n_heads, float scale,
                        float* out, ThreadPool& pool) {
  if (c.type != GgmlType::F32 && c.type != GgmlType::F16)
    fail("mla_attention: latent cache type ", type_name(c.type), " is not F32 or F16");
  if (n_ctx < 0 || n_heads < 0 || c.kv_rank < 0 || c.rope_dim < 0)
    fail("mla_attention: negative size (n_ctx ", n_ctx, ", heads ", n_heads, ", kv_rank ",
         c.kv_rank, ", rope_dim ", c.rope_dim, ")");
  if (n_heads == 0) return;
  if (!q_lat || !out || (c.rope_dim > 0 && !q_rope))
    fail("mla_attention: null query or output pointer");
  if (n_ctx > 0 && (!c.latent || (c.rope_dim > 0 && !c.rope)))
    fail("mla_attention: null cache pointer with n_ctx ", n_ctx);
  const int64_t R = c.kv_rank, P = c.rope_dim;
  if (n_ctx == 0) {
    std::fill(out, out + n_heads * R, 0.0f);
    return;
  }
  const bool f16 = c.type == GgmlType::F16;
  auto dot = [&](const float* q, const void* base, size_t stride, int64_t t, int64_t n) {
    if (f16) return k.dot_f32_f16(q, static_cast<const uint16_t*>(base) + stride * t, n);
    return k.dot_f32(q, static_cast<const float*>(base) + stride * t, n);
  };
  std::vector<float> scores(static_cast<size_t>(n_heads * n_ctx));
  const int64_t groups = (n_heads + kHeadGroup - 1) / kHeadGroup;
  pool.run(groups, [&](int64_t g, int) {
    const int64_t h0 = g * kHeadGroup, h1 = std::min(n_heads, h0 + kHeadGroup);
    for (int64_t t = 0; t < n_ctx; ++t)
      for (int64_t h = h0; h < h1; ++h) {
        float s = dot(q_lat + h * R, c.latent, c.latent_stride, t, R);
        if (P > 0) s += dot(q_rope + h * P, c.rope, c.rope_stride, t, P);
        scores[h * n_ctx + t] = scale * s;
      }
    for (int64_t h = h0; h < h1; ++h) {
      k.softmax(scores.data() + h * n_ctx, n_ctx);
      std::fill(out + h * R, out + (h + 1) * R, 0.0f);
    }
    for (int64_t t = 0; t < n_ctx; ++t)
      for (int64_t h = h0; h < h1; ++h) {
        const float p = scores[h * n_ctx + t];
        if (f16) k.axpy_f16(p, static_cast<const uint16_t*>(c.latent) + c.latent_stride * t,
                            out + h * R, R);
        else k.axpy(p, static_cast<const float*>(c.latent) + c.latent_stride * t, out + h * R, R);
      }
  });
}

void mla_attention(const LatentCacheView& cache, int64_t n_ctx, const float* q_lat,
                   const float* q_rope, int64_t n_heads, float scale, float* out,
                   ThreadPool& pool) {
  mla_attention_with(active_table(), cache, n_ctx, q_lat, q_rope, n_heads, scale, out, pool);
}

}  // namespace whale::kernels
