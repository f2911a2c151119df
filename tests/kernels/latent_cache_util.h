// Shared by the tile-product MLA attention tests (prompt and decode): a paged latent cache of
// random rows, and an independent evaluation of the kernels' specified bf16 numerics.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/mla_attention.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"

namespace whale::kernels::testing {

inline double bf(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// A paged latent cache of n rows of type t (rows of R + P values), and the rows as the kernels
// widen them.
struct LatentCache {
  GgmlType type;
  int64_t R, P, W, block_rows;
  size_t row_bytes = 0;
  std::vector<std::vector<uint8_t>> blocks;
  std::vector<const uint8_t*> ptrs;
  std::vector<float> rows;  // n x W, widened exactly as stored
  LatentCache(GgmlType t, int64_t n, int64_t R_, int64_t P_, int64_t block_rows_, uint32_t seed)
      : type(t), R(R_), P(P_), W(R_ + P_), block_rows(block_rows_), row_bytes(whale::row_bytes(t, R_ + P_)) {
    const auto vals = random_floats(static_cast<size_t>(n * W), seed, 1.5f);
    rows.resize(vals.size());
    // BF16: the KV pool's pair layout (mla_attention.h), blocks with a line of padding as the
    // pool has; unwritten odd slots are zeros there too.
    for (int64_t b = 0; b * block_rows < n; ++b) blocks.emplace_back(row_bytes * block_rows + 64);
    if (t == GgmlType::BF16) row_bytes = 2 * static_cast<size_t>(W);
    for (int64_t r = 0; t == GgmlType::BF16 && r < n; ++r) {
      auto* pair = reinterpret_cast<uint16_t*>(blocks[r / block_rows].data() + row_bytes * (r % block_rows / 2 * 2));
      for (int64_t d = 0; d < W; ++d) rows[r * W + d] = bf16_to_f32(pair[2 * d + r % 2] = f32_to_bf16(vals[r * W + d]));
    }
    for (int64_t r = 0; t != GgmlType::BF16 && r < n; ++r) {
      uint8_t* dst = blocks[r / block_rows].data() + row_bytes * (r % block_rows);
      quantize_row(t, vals.data() + r * W, dst, W);
      dequantize_row(t, dst, rows.data() + r * W, W);
    }
    for (auto& b : blocks) ptrs.push_back(b.data());
  }
  PagedLatentCache view() const { return {type, ptrs.data(), block_rows, row_bytes, R, P}; }
  const float* row(int64_t t) const { return rows.data() + t * W; }
};

// Checks out (R floats) for one head's query (q_lat: R floats, q_rope: P floats) over the
// cache's first nk rows against the specified numerics: scores from bf16-rounded queries and
// cache rows, an exact softmax, outputs from bf16-rounded probabilities and latent values.
//
// Tolerance, derived (eps = 2^-23): the kernels sum the scores in f32 (|Δs_j| <= scale·(W+1)·eps·
// Σ|q·k_j|), which moves each probability by a factor within e^(±2·max|Δs|); they round the
// unnormalised exponentials to bf16 and divide by their f32 sum at the end, where the reference
// rounds p_j itself: each rounding is within u = 2^-8 (bf16's unit roundoff) of the exact term, so
// the two differ by at most 2^-7 relative, plus f32 roundings. Decode blocks are merged with
// weights e^(m_b - M) in f32: a few more f32 roundings, inside the 1e-5.
// Hence |Δo_d| <= (2^-7 + 2.01·max|Δs| + 1e-5)·Σ_j p_j·|v_j,d| + 1e-7.
inline void expect_bf16_attention(const LatentCache& c, int64_t nk, const float* q_lat, const float* q_rope,
                                  float scale, const float* out, const char* what) {
  std::vector<double> s(static_cast<size_t>(nk)), p(static_cast<size_t>(nk));
  double max_ds = 0, m = -1e300;
  for (int64_t j = 0; j < nk; ++j) {
    double dot = 0, mag = 0;
    for (int64_t d = 0; d < c.W; ++d) {
      const float qv = d < c.R ? q_lat[d] : q_rope[d - c.R];
      const double prod = bf(qv) * bf(c.row(j)[d]);
      dot += prod;
      mag += std::fabs(prod);
    }
    s[j] = scale * dot;
    max_ds = std::max(max_ds, scale * (c.W + 1) * FLT_EPSILON * mag);
    m = std::max(m, s[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < nk; ++j) sum += p[j] = std::exp(s[j] - m);
  for (int64_t d = 0; d < c.R; ++d) {
    double want = 0, mag = 0;
    for (int64_t j = 0; j < nk; ++j) {
      want += bf(static_cast<float>(p[j] / sum)) * bf(c.row(j)[d]);
      mag += p[j] / sum * std::fabs(c.row(j)[d]);
    }
    const double tol = (std::ldexp(1.0, -7) + 2.01 * max_ds + 1e-5) * mag + 1e-7;
    ASSERT_NEAR(out[d], want, tol) << what << " dim " << d;
  }
}

}  // namespace whale::kernels::testing
