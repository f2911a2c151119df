// AVX2 dot products of the 256-element super-block types (Q2_K..Q6_K, IQ4_XS) against Q8_K
// activations. Per super-block the weight levels are decoded 32 at a time into unsigned bytes,
// multiplied with maddubs, and weighted by their sub-block scale with madd (scale broadcast as
// int16), giving 8 exact int32 partial sums. Signed level ranges are handled by an offset
// (q + c unsigned) and subtracting c · Σ scale·bsum, which is exact integer arithmetic. Mins use
// the activation's bsums. The f32 scaling is lane-wise, so only the rounding differs from the
// scalar twin.
#include "kernels/avx2_kernels.h"
#include "kernels/simd_avx2.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::avx2 {
namespace {

// int16 value of lane j (0..7) of a vector whose two 128-bit lanes hold the same 8 int16,
// broadcast to all 16 lanes.
inline __m256i bcast16(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<short>((2 * j + 1) << 8 | 2 * j)));
}
// Low 128-bit lane gets int16 lane j, high lane gets lane j+1 (of a duplicated-lane vector):
// the scales of two consecutive 16-element sub-blocks.
inline __m256i bcast16_pair(__m256i v, int j) {
  const short lo = static_cast<short>((2 * j + 1) << 8 | 2 * j);
  const short hi = static_cast<short>((2 * j + 3) << 8 | (2 * j + 2));
  return _mm256_shuffle_epi8(v, _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo)));
}
inline __m256i dup_low_lane(__m256i v) { return _mm256_permute2x128_si256(v, v, 0x00); }
inline __m256i dup_high_lane(__m256i v) { return _mm256_permute2x128_si256(v, v, 0x11); }

template <int NT>
void load_acts(const void* act, size_t stride, const BlockQ8K* (&a)[NT]) {
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8K>(act, stride, t);
}

// ---- Q4_K / Q5_K ----
template <bool kFive, int NT>
void q45k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
               size_t out_stride) {
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) +
                         b * (kFive ? sizeof(BlockQ5K) : sizeof(BlockQ4K));
    const auto* head = reinterpret_cast<const BlockQ4K*>(blk);  // d, dmin, scales: same offsets
    const uint8_t* qs = kFive ? reinterpret_cast<const BlockQ5K*>(blk)->qs : head->qs;
    // Unpack the 12-byte scale/min packing (spec §2.4) four bytes at a time.
    uint32_t s[3];
    std::memcpy(s, head->scales, 12);
    const uint32_t sc_lo = s[0] & 0x3f3f3f3fu, mn_lo = s[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (s[2] & 0x0f0f0f0fu) | ((s[0] >> 6) & 0x03030303u) << 4;
    const uint32_t mn_hi = ((s[2] >> 4) & 0x0f0f0f0fu) | ((s[1] >> 6) & 0x03030303u) << 4;
    const __m256i scmn = _mm256_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(sc_lo),
        static_cast<int>(sc_hi), static_cast<int>(mn_lo), static_cast<int>(mn_hi)));
    const __m256i scales = dup_low_lane(scmn);  // sc0..7 in both lanes
    const __m128i mins8 = _mm256_extracti128_si256(scmn, 1);
    const __m256i mins16 =  // bsum k pairs with min k/2
        _mm256_set_m128i(_mm_unpackhi_epi16(mins8, mins8), _mm_unpacklo_epi16(mins8, mins8));
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = load32(reinterpret_cast<const BlockQ5K*>(blk)->qh);

    __m256i sumi[NT];
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    WHALE_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load32(qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kFive) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(
                                     _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(
                                     _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
      }
      const __m256i s_lo = bcast16(scales, 2 * c), s_hi = bcast16(scales, 2 * c + 1);
      WHALE_UNROLL
      for (int t = 0; t < NT; ++t) {
        const __m256i p0 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(a[t][b].qs + 64 * c)), s_lo);
        const __m256i p1 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(a[t][b].qs + 64 * c + 32)), s_hi);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p0, p1));
      }
    }
    const float xd = f16(head->d), xdmin = f16(head->dmin);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i msum = _mm256_madd_epi16(load32(a[t][b].bsums), mins16);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(xdmin * a[t][b].d), _mm256_cvtepi32_ps(msum), acc[t]);
    }
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

template <int NT>
void q4k_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  q45k_impl<false, NT>(n, w, a, s, o, os);
}
template <int NT>
void q5k_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  q45k_impl<true, NT>(n, w, a, s, o, os);
}

// ---- Q6_K: q + 32 in 0..63, minus 32 · Σ scale·bsum ----
template <int NT>
void q6k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ6K*>(w);
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(load16(x[b].scales));  // sc0..15
    __m256i sumi[NT];
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    WHALE_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i scales = h == 0 ? dup_low_lane(sc16) : dup_high_lane(sc16);
      const __m256i ql0 = load32(x[b].ql + 64 * h), ql1 = load32(x[b].ql + 64 * h + 32);
      const __m256i qh = load32(x[b].qh + 32 * h);
      __m256i g[4];
      g[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                             _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
      g[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
      g[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
      g[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
      WHALE_UNROLL
      for (int gi = 0; gi < 4; ++gi) {
        const __m256i s = bcast16_pair(scales, 2 * gi);
        WHALE_UNROLL
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_madd_epi16(
              _mm256_maddubs_epi16(g[gi], load32(a[t][b].qs + 128 * h + 32 * gi)), s);
          sumi[t] = _mm256_add_epi32(sumi[t], p);
        }
      }
    }
    const float xd = f16(x[b].d);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(load32(a[t][b].bsums), sc16), 5);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d),
                               _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], off)), acc[t]);
    }
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

// ---- Q3_K: q + 4 = low2 + 4·highbit in 0..7, minus 4 · Σ scale·bsum ----
template <int NT>
void q3k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ3K*>(w);
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    // 16 six-bit scales (spec §2.4), four at a time: low nibbles from bytes 0-7, high pairs
    // of bits from bytes 8-11.
    uint32_t s[3];
    std::memcpy(s, x[b].scales, 12);
    const uint32_t v0 = (s[0] & 0x0f0f0f0fu) | ((s[2] & 0x03030303u) << 4);
    const uint32_t v1 = (s[1] & 0x0f0f0f0fu) | (((s[2] >> 2) & 0x03030303u) << 4);
    const uint32_t v2 = ((s[0] >> 4) & 0x0f0f0f0fu) | (((s[2] >> 4) & 0x03030303u) << 4);
    const uint32_t v3 = ((s[1] >> 4) & 0x0f0f0f0fu) | (((s[2] >> 6) & 0x03030303u) << 4);
    const __m128i sc8 = _mm_sub_epi8(
        _mm_setr_epi32(static_cast<int>(v0), static_cast<int>(v1), static_cast<int>(v2),
                       static_cast<int>(v3)),
        _mm_set1_epi8(32));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m256i hm = load32(x[b].hmask);
    __m256i sumi[NT];
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    WHALE_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i scales = h == 0 ? dup_low_lane(sc16) : dup_high_lane(sc16);
      const __m256i qs = load32(x[b].qs + 32 * h);
      WHALE_UNROLL
      for (int g = 0; g < 4; ++g) {
        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * g), m3);
        const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + g), one);
        const __m256i q = _mm256_or_si256(low, _mm256_slli_epi16(hb, 2));
        const __m256i sv = bcast16_pair(scales, 2 * g);
        WHALE_UNROLL
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_madd_epi16(
              _mm256_maddubs_epi16(q, load32(a[t][b].qs + 128 * h + 32 * g)), sv);
          sumi[t] = _mm256_add_epi32(sumi[t], p);
        }
      }
    }
    const float xd = f16(x[b].d);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(load32(a[t][b].bsums), sc16), 2);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d),
                               _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], off)), acc[t]);
    }
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

// ---- Q2_K: unsigned 2-bit levels, 4-bit scale and min per 16 ----
template <int NT>
void q2k_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ2K*>(w);
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(15);
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    const __m128i raw = load16(x[b].scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, m4));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
    __m256i sumi[NT];
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    WHALE_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i scales = h == 0 ? dup_low_lane(sc16) : dup_high_lane(sc16);
      const __m256i qs = load32(x[b].qs + 32 * h);
      WHALE_UNROLL
      for (int g = 0; g < 4; ++g) {
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * g), m3);
        const __m256i sv = bcast16_pair(scales, 2 * g);
        WHALE_UNROLL
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_madd_epi16(
              _mm256_maddubs_epi16(q, load32(a[t][b].qs + 128 * h + 32 * g)), sv);
          sumi[t] = _mm256_add_epi32(sumi[t], p);
        }
      }
    }
    const float xd = f16(x[b].d), xdmin = f16(x[b].dmin);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i msum = _mm256_madd_epi16(load32(a[t][b].bsums), mn16);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(xdmin * a[t][b].d), _mm256_cvtepi32_ps(msum), acc[t]);
    }
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

// ---- IQ4_XS: table lookup of the nibbles, (ls − 32) folded into the integer sum ----
template <int NT>
void iq4xs_impl(int64_t n, const void* w, const void* act, size_t stride, float* out,
                size_t out_stride) {
  const auto* x = static_cast<const BlockIQ4XS*>(w);
  const BlockQ8K* a[NT];
  load_acts<NT>(act, stride, a);
  __m256 acc[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i table = _mm256_broadcastsi128_si256(load16(kIQ4NLValues));
  const int64_t nb = n / kQKK;
  for (int64_t b = 0; b < nb; ++b) {
    __m256i sumi[NT];
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    WHALE_UNROLL
    for (int ib = 0; ib < 8; ++ib) {
      const __m256i q = _mm256_shuffle_epi8(table, nibbles32(x[b].qs + 16 * ib));
      const __m256i qabs = _mm256_sign_epi8(q, q);
      const __m256i ls = _mm256_set1_epi16(static_cast<short>(iq4xs_scale(x[b], ib) - 32));
      WHALE_UNROLL
      for (int t = 0; t < NT; ++t) {
        const __m256i p16 =
            _mm256_maddubs_epi16(qabs, _mm256_sign_epi8(load32(a[t][b].qs + 32 * ib), q));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p16, ls));
      }
    }
    const float xd = f16(x[b].d);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * a[t][b].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

}  // namespace

#define WHALE_DEFINE_DOT(name, impl)                                                      \
  void name(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out, \
            size_t out_stride) {                                                          \
    WHALE_AVX2_NT_DISPATCH(impl, n, w, act, stride, nt, out, out_stride);                 \
  }
WHALE_DEFINE_DOT(dot_q2_k, q2k_impl)
WHALE_DEFINE_DOT(dot_q3_k, q3k_impl)
WHALE_DEFINE_DOT(dot_q4_k, q4k_impl)
WHALE_DEFINE_DOT(dot_q5_k, q5k_impl)
WHALE_DEFINE_DOT(dot_q6_k, q6k_impl)
WHALE_DEFINE_DOT(dot_iq4_xs, iq4xs_impl)
#undef WHALE_DEFINE_DOT

}  // namespace whale::kernels::avx2
