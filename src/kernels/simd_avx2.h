// Small AVX2 building blocks shared by the *_avx2.cpp kernels. Include only from files built
// with -mavx2 -mfma -mf16c (names ending in _avx2.cpp).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace whale::kernels::avx2 {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Exact f16 -> f32 (hardware F16C converts subnormals exactly too).
inline float f16(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Σ over pairs: u (unsigned bytes) times s (signed bytes), widened to 8 int32 lanes, each the
// sum of 4 neighbouring products. No saturation while |u*s| pairs stay below 2^15 (callers
// keep u <= 128 and |s| <= 127).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// Same for two signed byte vectors: the sign of w moves onto a so maddubs sees |w| unsigned.
// Exact for w = -128 too, since activations are quantised to [-127, 127].
inline __m256i dot_s8s8(__m256i w, __m256i a) {
  return dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// The 32 nibbles of a 16-byte qs in element order: low nibbles (elements 0..15) in the low
// 128-bit lane, high nibbles (16..31) in the high lane.
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = load16(qs);
  const __m128i m4 = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}

// Bit j of the little-endian u32 at p, for j = 0..31, as byte j = 0xFF (set) or 0x00.
inline __m256i bits32_to_bytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  // Byte j takes source byte j/8 (shuffle works per 128-bit lane; both lanes hold all 4).
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                         0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// Fully unrolls a short loop over tokens or sub-blocks so per-token accumulators live in
// registers (at -O2 GCC would otherwise keep the small arrays in memory).
#define WHALE_UNROLL _Pragma("GCC unroll 8")

// The i-th activation row (as type A) of rows stored `stride` bytes apart.
template <class A>
inline const A* act_row(const void* act, size_t stride, int t) {
  return reinterpret_cast<const A*>(static_cast<const uint8_t*>(act) + stride * t);
}

// Calls impl<k> for nt activation rows, k <= 4 at a time (callers may pass more rows than one
// instantiation takes: the rest go in further calls), keeping per-token state in registers.
#define WHALE_AVX2_NT_DISPATCH(impl, n, w, act, stride, nt, out, out_stride)              \
  do {                                                                                \
    const void* w_ = (w);                                                             \
    for (int t0_ = 0; t0_ < (nt); t0_ += 4) {                                         \
      const void* act_ = static_cast<const uint8_t*>(act) + (stride) * t0_;           \
      float* out_ = (out) + (out_stride) * t0_;                                        \
      const int k_ = (nt) - t0_ < 4 ? (nt) - t0_ : 4;                                  \
      switch (k_) {                                                                   \
        case 1: impl<1>(n, w_, act_, stride, out_, out_stride); break;            \
        case 2: impl<2>(n, w_, act_, stride, out_, out_stride); break;            \
        case 3: impl<3>(n, w_, act_, stride, out_, out_stride); break;            \
        case 4: impl<4>(n, w_, act_, stride, out_, out_stride); break;            \
        default: break;                                                               \
      }                                                                               \
    }                                                                                 \
  } while (0)

}  // namespace whale::kernels::avx2
