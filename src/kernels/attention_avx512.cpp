// AVX-512 attention tile kernels (kernel_table.h contracts; the scalar twins are in
// attention_scalar.cpp). MLA decode reads each f32 tile of cache rows (L2-resident) 16 times,
// once per head, for the scores and again for the weighted sum, so both products are
// register-blocked to feed many FMAs per load:
//  - scores: 6 rows x 4 queries per step, 24 zmm accumulators (10 loads per 24 FMAs), reduced
//    16 at a time by a transpose-and-add tree (hsum16x16) straight into the block of s; every
//    score is summed in the same order (lane i mod 16, then the same tree), whatever its place
//    in the block, so it depends only on its query and row;
//  - weighted sum: 4 queries x 64 output columns (16 zmm) stay in registers across every row
//    of the tile (4 row loads + 4 broadcasts per 16 FMAs), so out is read and written once.
// Lengths that are not multiples of 16 are finished with masked loads and stores, never by
// reading past the end of a row.
#include <cstdint>
#include <cstring>

#include "kernels/avx512_kernels.h"
#include "kernels/simd_avx512.h"

namespace whale::kernels::avx512 {
namespace {

// How far (in floats, 0..15) the rows start past a 64-byte line, when every row starts equally
// far (a stride of whole lines) and rows are long enough to care; else 0. A zmm load that
// straddles two lines costs two L1 accesses, ~15-40% of these products when the caller's tile
// is only 16-byte aligned, so both products shift their loads onto line boundaries:
//  - the weighted sum handles the first 16 - lead columns apart; each output column is still
//    summed over the rows in turn, so nothing changes but speed;
//  - the scores load each row's chunks from the line boundaries, which puts value i in lane
//    (i + lead) mod 16 instead of i mod 16, and rotate the accumulators back before reducing
//    them, so every lane holds the same values added in the same order as without the shift
//    (give or take added exact zeros): the same inputs give the same bits wherever they are
//    stored (prefill vs decode, a batch vs a sequence alone).
inline int64_t line_lead(const float* rows, size_t row_stride, int64_t d) {
  const auto addr = reinterpret_cast<uintptr_t>(rows);
  if (d < 64 || (row_stride * sizeof(float)) % 64 != 0 || addr % sizeof(float) != 0) return 0;
  return static_cast<int64_t>(addr % 64 / sizeof(float));
}

// p + k floats for a k that may reach before p (the masked loads below touch no such lane).
inline const float* shifted(const float* p, int64_t k) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(k * 4));
}

// s[j * s_stride + r] = q_j . row_r for r < NR <= 6, j < NQ <= 4. Rows 0-3 and rows 4-5 keep
// their accumulators in two groups of 4 x 4 (the second half empty), each reduced by one tree.
template <int NR, int NQ>
inline void scores_block(const float* rows, size_t row_stride, const float* q, size_t q_stride, float* s,
                         size_t s_stride, int64_t d) {
  __m512 acc[2][16];
#pragma GCC unroll 16
  for (int k = 0; k < 16; ++k) acc[0][k] = acc[1][k] = _mm512_setzero_ps();
  const auto step = [&](int64_t i, __mmask16 m) __attribute__((always_inline)) {
    __m512 rv[NR];
    WHALE_UNROLL512
    for (int r = 0; r < NR; ++r) rv[r] = _mm512_maskz_loadu_ps(m, shifted(rows + r * row_stride, i));
    WHALE_UNROLL512
    for (int j = 0; j < NQ; ++j) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, shifted(q + j * q_stride, i));
      WHALE_UNROLL512
      for (int r = 0; r < NR; ++r) acc[r / 4][j * 4 + r % 4] = _mm512_fmadd_ps(qv, rv[r], acc[r / 4][j * 4 + r % 4]);
    }
  };
  const int64_t lead = line_lead(rows, row_stride, d);
  if (lead == 0) {
    int64_t i = 0;
    for (; i + 16 <= d; i += 16) step(i, 0xFFFF);
    if (i < d) step(i, lanes(d - i));
  } else {
    // Values 0 .. 15 - lead in lanes lead .. 15 of the first line, then whole lines.
    step(-lead, static_cast<__mmask16>(0xFFFF << lead));
    int64_t i = 16 - lead;
    for (; i + 16 <= d; i += 16) step(i, 0xFFFF);
    if (i < d) step(i, lanes(d - i));
    // Lane L takes the lane holding the values = L mod 16.
    const __m512i back = _mm512_and_si512(
        _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(lead))),
        _mm512_set1_epi32(15));
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) {
      if (k % 4 < NR && k / 4 < NQ) acc[0][k] = _mm512_permutexvar_ps(back, acc[0][k]);
      if (k % 4 + 4 < NR && k / 4 < NQ) acc[1][k] = _mm512_permutexvar_ps(back, acc[1][k]);
    }
  }
  // Lane j*4 + r of a group's sums is s[j][group's first row + r]: one store per query.
  WHALE_UNROLL512
  for (int g = 0; g * 4 < NR; ++g) {
    const int nr = NR - 4 * g < 4 ? NR - 4 * g : 4;
    const __m512 sums = hsum16x16(acc[g]);
    const __mmask8 rmask = static_cast<__mmask8>((1u << nr) - 1);
    const __m128 parts[4] = {_mm512_extractf32x4_ps(sums, 0), _mm512_extractf32x4_ps(sums, 1),
                             _mm512_extractf32x4_ps(sums, 2), _mm512_extractf32x4_ps(sums, 3)};
    WHALE_UNROLL512
    for (int j = 0; j < NQ; ++j) {
      if (nr == 4) _mm_storeu_ps(s + j * s_stride + 4 * g, parts[j]);
      else _mm_mask_storeu_ps(s + j * s_stride + 4 * g, rmask, parts[j]);
    }
  }
}

// All queries against NR rows: the rows (NR x d floats) stay in L1 while the queries stream
// past them, so the tile is read from L2 once rather than once per block of queries.
template <int NR>
inline void scores_rows(const float* rows, size_t row_stride, const float* q, size_t q_stride, int64_t nq,
                        float* s, size_t s_stride, int64_t d) {
  int64_t j = 0;
  for (; j + 4 <= nq; j += 4)
    scores_block<NR, 4>(rows, row_stride, q + j * q_stride, q_stride, s + j * s_stride, s_stride, d);
  const float* qj = q + j * q_stride;
  float* sj = s + j * s_stride;
  switch (nq - j) {
    case 3: scores_block<NR, 3>(rows, row_stride, qj, q_stride, sj, s_stride, d); break;
    case 2: scores_block<NR, 2>(rows, row_stride, qj, q_stride, sj, s_stride, d); break;
    case 1: scores_block<NR, 1>(rows, row_stride, qj, q_stride, sj, s_stride, d); break;
    default: break;
  }
}

// out_j[c .. c + 16 * NZ) += sum_t p[j * p_stride + t] * row_t[...] for j < NQ; the last of
// the NZ vectors covers only the lanes in `last`.
template <int NQ, int NZ>
inline void accumulate_block(const float* rows, size_t row_stride, int64_t n_rows, const float* p,
                             size_t p_stride, float* out, size_t out_stride, __mmask16 last) {
  __m512 acc[NQ][NZ];
  const auto mask = [&](int z) { return z == NZ - 1 ? last : static_cast<__mmask16>(0xFFFF); };
  WHALE_UNROLL512
  for (int j = 0; j < NQ; ++j)
    WHALE_UNROLL512
    for (int z = 0; z < NZ; ++z) acc[j][z] = _mm512_maskz_loadu_ps(mask(z), out + j * out_stride + 16 * z);
  for (int64_t t = 0; t < n_rows; ++t) {
    __m512 rv[NZ];
    WHALE_UNROLL512
    for (int z = 0; z < NZ; ++z) rv[z] = _mm512_maskz_loadu_ps(mask(z), rows + t * row_stride + 16 * z);
    WHALE_UNROLL512
    for (int j = 0; j < NQ; ++j) {
      const __m512 w = _mm512_set1_ps(p[j * p_stride + t]);
      WHALE_UNROLL512
      for (int z = 0; z < NZ; ++z) acc[j][z] = _mm512_fmadd_ps(w, rv[z], acc[j][z]);
    }
  }
  WHALE_UNROLL512
  for (int j = 0; j < NQ; ++j)
    WHALE_UNROLL512
    for (int z = 0; z < NZ; ++z) _mm512_mask_storeu_ps(out + j * out_stride + 16 * z, mask(z), acc[j][z]);
}

// All queries over 16 * NZ columns: that slice of the tile's rows (at most 16 KiB for 64
// rows) stays in L1 while the blocks of queries pass over it.
template <int NZ>
inline void accumulate_cols(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                            int64_t np, float* out, size_t out_stride, __mmask16 last) {
  int64_t j = 0;
  for (; j + 4 <= np; j += 4)
    accumulate_block<4, NZ>(rows, row_stride, n_rows, p + j * p_stride, p_stride, out + j * out_stride, out_stride,
                            last);
  const float* pj = p + j * p_stride;
  float* oj = out + j * out_stride;
  switch (np - j) {
    case 3: accumulate_block<3, NZ>(rows, row_stride, n_rows, pj, p_stride, oj, out_stride, last); break;
    case 2: accumulate_block<2, NZ>(rows, row_stride, n_rows, pj, p_stride, oj, out_stride, last); break;
    case 1: accumulate_block<1, NZ>(rows, row_stride, n_rows, pj, p_stride, oj, out_stride, last); break;
    default: break;
  }
}

// e^x, the AVX2 exp256 method on 16 lanes: x = k*ln2 + r with |r| <= ln2/2 (Cody-Waite split
// of ln2 so k*ln2_hi is exact), e^r by the same degree-7 Taylor polynomial (truncation error
// < 6e-9 relative), then scalef multiplies by 2^k exactly. Like exp256, x below -87.33 (where
// e^x < FLT_MIN) gives 0, not the subnormal std::exp gives: a subnormal result costs a
// microcode assist of ~100+ cycles, and softmax over a long context meets millions of them
// (decode at 4096 keys spent 5 % of its time there). Inputs are clamped to [-87.33, 89] first,
// so large x give +inf; NaN stays NaN (the operand order of min/max passes a NaN x through, and
// a NaN compares false, so the mask keeps it).
inline __m512 exp512(__m512 x) {
  // Below ln(FLT_MIN) = -87.3365 the result is 0; clamping there first keeps scalef's result
  // normal (the assist happens in scalef, whatever is done with its result afterwards).
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-87.33f), x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_mask_blend_ps(tiny, _mm512_scalef_ps(p, k), _mm512_setzero_ps());
}

}  // namespace

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  // Aligned stores from the second vector on (the tile rows written here are what the products
  // load; a store across two cache lines costs twice as well).
  int64_t i = n >= 64 ? static_cast<int64_t>((64 - reinterpret_cast<uintptr_t>(y) % 64) % 64 / sizeof(float)) : 0;
  if (i > 0) {
    const __mmask16 m = lanes(i);
    _mm512_mask_storeu_ps(y, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x)));
  }
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(load32(x + i)));
    _mm512_storeu_ps(y + i + 16, _mm512_cvtph_ps(load32(x + i + 16)));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

void q8_0_to_f32(const void* x, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(x);
  for (int64_t b = 0; b < n / 32; ++b, p += 34) {
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(p + 2)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(p + 18)));
    _mm512_storeu_ps(y + b * 32, _mm512_mul_ps(lo, d));
    _mm512_storeu_ps(y + b * 32 + 16, _mm512_mul_ps(hi, d));
  }
}

void attn_scores(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                 int64_t nq, float* s, size_t s_stride, int64_t d) {
  int64_t t = 0;
  for (; t + 6 <= n_rows; t += 6)
    scores_rows<6>(rows + t * row_stride, row_stride, q, q_stride, nq, s + t, s_stride, d);
  const float* rt = rows + t * row_stride;
  switch (n_rows - t) {
    case 5: scores_rows<5>(rt, row_stride, q, q_stride, nq, s + t, s_stride, d); break;
    case 4: scores_rows<4>(rt, row_stride, q, q_stride, nq, s + t, s_stride, d); break;
    case 3: scores_rows<3>(rt, row_stride, q, q_stride, nq, s + t, s_stride, d); break;
    case 2: scores_rows<2>(rt, row_stride, q, q_stride, nq, s + t, s_stride, d); break;
    case 1: scores_rows<1>(rt, row_stride, q, q_stride, nq, s + t, s_stride, d); break;
    default: break;
  }
}

void attn_accumulate(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                     int64_t np, float* out, size_t out_stride, int64_t d) {
  int64_t c = (16 - line_lead(rows, row_stride, d)) % 16;
  if (c > 0) accumulate_cols<1>(rows, row_stride, n_rows, p, p_stride, np, out, out_stride, lanes(c));
  for (; c + 64 <= d; c += 64)
    accumulate_cols<4>(rows + c, row_stride, n_rows, p, p_stride, np, out + c, out_stride, 0xFFFF);
  const int64_t rest = d - c;
  if (rest == 0) return;
  // 1..4 vectors, the last one partial when rest is not a multiple of 16.
  const __mmask16 last = lanes(rest - 16 * ((rest - 1) / 16));
  const float* rc = rows + c;
  float* oc = out + c;
  switch ((rest + 15) / 16) {
    case 4: accumulate_cols<4>(rc, row_stride, n_rows, p, p_stride, np, oc, out_stride, last); break;
    case 3: accumulate_cols<3>(rc, row_stride, n_rows, p, p_stride, np, oc, out_stride, last); break;
    case 2: accumulate_cols<2>(rc, row_stride, n_rows, p, p_stride, np, oc, out_stride, last); break;
    default: accumulate_cols<1>(rc, row_stride, n_rows, p, p_stride, np, oc, out_stride, last); break;
  }
}

float exp_sum(float* x, float shift, int64_t n) {
  const __m512 vs = _mm512_set1_ps(shift);
  // Two accumulators so consecutive adds do not wait on each other.
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
    const __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vs));
    _mm512_storeu_ps(x + i, e0);
    _mm512_storeu_ps(x + i + 16, e1);
    acc0 = _mm512_add_ps(acc0, e0);
    acc1 = _mm512_add_ps(acc1, e1);
  }
  for (; i < n; i += 16) {
    // Lanes past n are neither stored nor summed (their e^(0 - shift) may be anything).
    const __mmask16 m = lanes(n - i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc0 = _mm512_mask_add_ps(acc0, m, acc0, e);
  }
  return hsum(_mm512_add_ps(acc0, acc1));
}

}  // namespace whale::kernels::avx512
