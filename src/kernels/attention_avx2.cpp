// AVX2 attention tile kernels. Both products are register-blocked so that each value loaded
// from the (L2-resident) tile of cache rows feeds several FMAs: scores take 2 rows x 4 queries
// per step (6 loads for 8 FMAs, against 2 loads per FMA for one dot at a time), the weighted
// sum keeps a 4-query x 16-column block of outputs in registers across all rows of the tile.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx2_kernels.h"
#include "kernels/simd_avx2.h"

namespace whale::kernels::avx2 {
namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// NR rows x NQ queries of scores, d a multiple of 8 handled by vectors, the rest scalar.
template <int NR, int NQ>
inline void scores_block(const float* rows, size_t row_stride, const float* q, size_t q_stride, float* s,
                         size_t s_stride, int64_t d) {
  __m256 acc[NR][NQ];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < NQ; ++j) acc[r][j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m256 rv[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) rv[r] = _mm256_loadu_ps(rows + r * row_stride + i);
#pragma GCC unroll 8
    for (int j = 0; j < NQ; ++j) {
      const __m256 qv = _mm256_loadu_ps(q + j * q_stride + i);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc[r][j] = _mm256_fmadd_ps(qv, rv[r], acc[r][j]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int j = 0; j < NQ; ++j) {
      float v = hsum8(acc[r][j]);
      for (int64_t k = i; k < d; ++k) v += q[j * q_stride + k] * rows[r * row_stride + k];
      s[j * s_stride + r] = v;
    }
}

template <int NQ>
inline void accumulate_block(const float* rows, size_t row_stride, int64_t n_rows, const float* p,
                             size_t p_stride, float* out, size_t out_stride, int64_t d) {
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) {
    __m256 a0[NQ], a1[NQ];
#pragma GCC unroll 8
    for (int j = 0; j < NQ; ++j) {
      a0[j] = _mm256_loadu_ps(out + j * out_stride + c);
      a1[j] = _mm256_loadu_ps(out + j * out_stride + c + 8);
    }
    for (int64_t t = 0; t < n_rows; ++t) {
      const __m256 r0 = _mm256_loadu_ps(rows + t * row_stride + c);
      const __m256 r1 = _mm256_loadu_ps(rows + t * row_stride + c + 8);
#pragma GCC unroll 8
      for (int j = 0; j < NQ; ++j) {
        const __m256 w = _mm256_broadcast_ss(p + j * p_stride + t);
        a0[j] = _mm256_fmadd_ps(w, r0, a0[j]);
        a1[j] = _mm256_fmadd_ps(w, r1, a1[j]);
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NQ; ++j) {
      _mm256_storeu_ps(out + j * out_stride + c, a0[j]);
      _mm256_storeu_ps(out + j * out_stride + c + 8, a1[j]);
    }
  }
  for (; c < d; ++c)
    for (int j = 0; j < NQ; ++j) {
      float v = out[j * out_stride + c];
      for (int64_t t = 0; t < n_rows; ++t) v += p[j * p_stride + t] * rows[t * row_stride + c];
      out[j * out_stride + c] = v;
    }
}

}  // namespace

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

void q8_0_to_f32(const void* x, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(x);
  for (int64_t b = 0; b < n / 32; ++b, p += 34) {
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
    for (int k = 0; k < 4; ++k) {
      const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * k));
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
      _mm256_storeu_ps(y + b * 32 + 8 * k, _mm256_mul_ps(v, d));
    }
  }
}

void attn_scores(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                 int64_t nq, float* s, size_t s_stride, int64_t d) {
  int64_t j = 0;
  for (; j + 4 <= nq; j += 4) {
    int64_t t = 0;
    for (; t + 2 <= n_rows; t += 2)
      scores_block<2, 4>(rows + t * row_stride, row_stride, q + j * q_stride, q_stride, s + j * s_stride + t,
                         s_stride, d);
    for (; t < n_rows; ++t)
      scores_block<1, 4>(rows + t * row_stride, row_stride, q + j * q_stride, q_stride, s + j * s_stride + t,
                         s_stride, d);
  }
  for (; j < nq; ++j) {
    int64_t t = 0;
    for (; t + 4 <= n_rows; t += 4)
      scores_block<4, 1>(rows + t * row_stride, row_stride, q + j * q_stride, q_stride, s + j * s_stride + t,
                         s_stride, d);
    for (; t < n_rows; ++t)
      scores_block<1, 1>(rows + t * row_stride, row_stride, q + j * q_stride, q_stride, s + j * s_stride + t,
                         s_stride, d);
  }
}

void attn_accumulate(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                     int64_t np, float* out, size_t out_stride, int64_t d) {
  int64_t j = 0;
  for (; j + 4 <= np; j += 4)
    accumulate_block<4>(rows, row_stride, n_rows, p + j * p_stride, p_stride, out + j * out_stride, out_stride, d);
  for (; j < np; ++j)
    accumulate_block<1>(rows, row_stride, n_rows, p + j * p_stride, p_stride, out + j * out_stride, out_stride, d);
}

}  // namespace whale::kernels::avx2
