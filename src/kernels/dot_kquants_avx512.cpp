// AVX-512 VNNI dot products of Q4_K, Q5_K and Q6_K weight rows against Q8_K activations.
//
// Each zmm holds 64 unsigned weight levels in activation order (two 32-element groups), so one
// vpdpbusd against 64 activation bytes yields 16 int32 partial sums, 4 or 8 lanes per sub-block.
// Those sums are small (|.| <= 4 · 63 · 127 < 2^15), so two of them pack losslessly to int16
// (vpackssdw) and one vpdpwssd applies the sub-block scales, laid out to match the pack's lane
// order. Signed levels (Q6_K: q − 32) use the unsigned q and subtract 32 · Σ scale · bsum;
// mins (Q4_K/Q5_K) use the activation's bsums as in the scalar twin. The per-super-block
// integer sums are exact; only the f32 scaling (lane-wise) rounds differently from the scalar twin.
#include "kernels/simd_avx512.h"  // first: includes immintrin.h (see there)
#include "kernels/avx512_kernels.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::avx512 {
namespace {

template <int NT>
void load_acts(const void* act, size_t stride, const BlockQ8K* (&a)[NT]) {
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8K>(act, stride, t);
}

inline __m512i load_idx(const int16_t* p) { return _mm512_loadu_si512(p); }

// ---- Q4_K / Q5_K ----
// Chunk c (32 bytes of qs) holds sub-block 2c in its low nibbles and 2c+1 in its high nibbles:
// broadcast to both halves, shift the high half, mask → [sub-block 2c | sub-block 2c+1], which
// matches activation bytes 64c..64c+63. vpdpbusd lane l of chunk c belongs to sub-block
// 2c + l/8; vpackssdw(r0, r1) puts, in 128-bit lane k, words 0-3 from r0 lane k and 4-7 from r1
// lane k, hence the scale index tables below.
template <bool kFive, int NT>
void q45k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
               size_t out_stride) {
  alignas(64) static constexpr int16_t kIdx01[32] = {0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2,
                                                     1, 1, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3};
  alignas(64) static constexpr int16_t kIdx23[32] = {4, 4, 4, 4, 6, 6, 6, 6, 4, 4, 4, 4, 6, 6, 6, 6,
                                                     5, 5, 5, 5, 7, 7, 7, 7, 5, 5, 5, 5, 7, 7, 7, 7};
  // bsums[k] (16 elements) belongs to sub-block k/2, whose min is word 8 + k/2.
  alignas(32) static constexpr int16_t kIdxMin[16] = {8, 8, 9, 9, 10, 10, 11, 11,
                                                      12, 12, 13, 13, 14, 14, 15, 15};
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m512 acc[NT];
  __m256 accm[NT];
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm512_setzero_ps();
    accm[t] = _mm256_setzero_ps();
  }
  const __m512i m4 = _mm512_set1_epi8(15), sixteen = _mm512_set1_epi8(16);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i idx01 = load_idx(kIdx01), idx23 = load_idx(kIdx23);
  const __m256i idxm = _mm256_load_si256(reinterpret_cast<const __m256i*>(kIdxMin));
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) +
                         b * (kFive ? sizeof(BlockQ5K) : sizeof(BlockQ4K));
    const auto* head = reinterpret_cast<const BlockQ4K*>(blk);  // d, dmin, scales: same offsets
    const uint8_t* qs = kFive ? reinterpret_cast<const BlockQ5K*>(blk)->qs : head->qs;
    // The 12-byte 6-bit scale/min packing (spec §2.4), four bytes at a time.
    uint32_t s[3];
    std::memcpy(s, head->scales, 12);
    const uint32_t sc_lo = s[0] & 0x3f3f3f3fu, mn_lo = s[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (s[2] & 0x0f0f0f0fu) | ((s[0] >> 6) & 0x03030303u) << 4;
    const uint32_t mn_hi = ((s[2] >> 4) & 0x0f0f0f0fu) | ((s[1] >> 6) & 0x03030303u) << 4;
    const __m256i scmn = _mm256_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(sc_lo),
        static_cast<int>(sc_hi), static_cast<int>(mn_lo), static_cast<int>(mn_hi)));
    const __m512i scmn512 = _mm512_castsi256_si512(scmn);  // only words 0-15 are indexed
    const __m512i s01 = _mm512_permutexvar_epi16(idx01, scmn512);
    const __m512i s23 = _mm512_permutexvar_epi16(idx23, scmn512);
    const __m256i mins16 = _mm256_permutexvar_epi16(idxm, scmn);
    __m512i hbits = zero;
    if constexpr (kFive) hbits = _mm512_broadcast_i64x4(load32(reinterpret_cast<const BlockQ5K*>(blk)->qh));

    __m512i sumi[NT];
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) sumi[t] = zero;
    WHALE_UNROLL512
    for (int pair = 0; pair < 2; ++pair) {
      __m512i r[NT][2];
      WHALE_UNROLL512
      for (int h = 0; h < 2; ++h) {
        const int c = 2 * pair + h;
        __m512i v = _mm512_broadcast_i64x4(load32(qs + 32 * c));
        v = _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4), m4);
        if constexpr (kFive) {
          // Fifth bit of sub-block j is bit j of qh[l]: bit 2c for the low half, 2c+1 above.
          const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                                 _mm256_set1_epi8(static_cast<char>(2 << (2 * c))), 1);
          v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(hbits, bit), v, sixteen);
        }
        WHALE_UNROLL512
        for (int t = 0; t < NT; ++t) r[t][h] = _mm512_dpbusd_epi32(zero, v, load64(a[t][b].qs + 64 * c));
      }
      WHALE_UNROLL512
      for (int t = 0; t < NT; ++t)
        sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_packs_epi32(r[t][0], r[t][1]), pair == 0 ? s01 : s23);
    }
    const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(&head->d))));
    const float xd = _mm_cvtss_f32(dd), xdmin = _mm_cvtss_f32(_mm_movehdup_ps(dd));
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) {
      const __m256i msum = _mm256_madd_epi16(load32(a[t][b].bsums), mins16);
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(xd * a[t][b].d), _mm512_cvtepi32_ps(sumi[t]), acc[t]);
      accm[t] = _mm256_fnmadd_ps(_mm256_set1_ps(xdmin * a[t][b].d), _mm256_cvtepi32_ps(msum), accm[t]);
    }
  }
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t)  // one horizontal sum per row: rows are only 8-40 super-blocks long
    out[t * out_stride] = hsum(_mm512_add_ps(acc[t], _mm512_zextps256_ps512(accm[t])));
}

template <int NT>
void q4k_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  q45k_impl<false, NT>(n, w, a, s, o, os);
}
template <int NT>
void q5k_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  q45k_impl<true, NT>(n, w, a, s, o, os);
}

// ---- Q6_K: unsigned q in 0..63, minus 32 · Σ scale·bsum ----
// Half h (128 elements): ql[64h..64h+63] low nibbles are groups 0|1, high nibbles groups 2|3;
// qh[32h + l] bits 2g, 2g+1 are group g's high pair. vpdpbusd lane l of [g0|g1] belongs to
// sub-block 8h + l/4, of [g2|g3] to 8h + 4 + l/4.
template <int NT>
void q6k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
              size_t out_stride) {
  alignas(64) static constexpr int16_t kIdxLo[32] = {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5,
                                                     2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7};
  alignas(64) static constexpr int16_t kIdxHi[32] = {8,  8,  8,  8,  12, 12, 12, 12, 9,  9,  9,
                                                     9,  13, 13, 13, 13, 10, 10, 10, 10, 14, 14,
                                                     14, 14, 11, 11, 11, 11, 15, 15, 15, 15};
  const auto* x = static_cast<const BlockQ6K*>(w);
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i idx_lo = load_idx(kIdxLo), idx_hi = load_idx(kIdxHi);
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(load16(x[b].scales));
    const __m512i sc512 = _mm512_castsi256_si512(sc16);  // only words 0-15 are indexed
    const __m256i neg32sc = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
    __m512i sumi[NT];
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) sumi[t] = zero;
    WHALE_UNROLL512
    for (int h = 0; h < 2; ++h) {
      const __m512i scales = _mm512_permutexvar_epi16(h == 0 ? idx_lo : idx_hi, sc512);
      const __m512i ql = load64(x[b].ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(load32(x[b].qh + 32 * h));
      // High pairs moved to bits 4-5: group 0 from bits 0-1, 1 from 2-3, 2 from 4-5, 3 from 6-7.
      const __m512i h01 = _mm512_mask_slli_epi16(_mm512_slli_epi16(qh, 4), 0xFFFF0000u, qh, 2);
      const __m512i h23 = _mm512_mask_srli_epi16(qh, 0xFFFF0000u, qh, 2);
      const __m512i w01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(h01, m30));
      const __m512i w23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_and_si512(h23, m30));
      WHALE_UNROLL512
      for (int t = 0; t < NT; ++t) {
        const __m512i r0 = _mm512_dpbusd_epi32(zero, w01, load64(a[t][b].qs + 128 * h));
        const __m512i r1 = _mm512_dpbusd_epi32(zero, w23, load64(a[t][b].qs + 128 * h + 64));
        sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_packs_epi32(r0, r1), scales);
      }
    }
    const float xd = _cvtsh_ss(x[b].d);
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) {
      __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi[t]), _mm512_extracti64x4_epi64(sumi[t], 1));
      s8 = _mm256_dpwssd_epi32(s8, load32(a[t][b].bsums), neg32sc);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d), _mm256_cvtepi32_ps(s8), acc[t]);
    }
  }
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

}  // namespace

void dot_q4_k(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q4k_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_q5_k(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q5k_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_q6_k(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q6k_impl, n, w, act, stride, nt, out, out_stride);
}

}  // namespace whale::kernels::avx512
