// Small AVX-512 building blocks shared by the *_avx512.cpp kernels. Include only from files built
// with the AVX-512 flags (names ending in _avx512.cpp). Everything here lives in its own
// namespace so no inline function is shared (by name) with code built for a lesser ISA: the
// linker may keep any one copy of an inline function, and an AVX-512 copy must never end up
// called from the AVX2 or baseline paths.
#pragma once
#include "kernels/intrinsics_avx512.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace whale::kernels::avx512 {

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Two 32-byte pieces as one zmm: p0 in the low half, p1 in the high half.
inline __m512i load_2x32(const void* p0, const void* p1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load32(p0)), load32(p1), 1);
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Fully unrolls a short loop over tokens or sub-blocks so per-token state stays in registers.
#define WHALE_UNROLL512 _Pragma("GCC unroll 8")

// Sixteen horizontal sums at once: lane k of the result is the sum of the 16 lanes of v[k].
// A transpose-and-add tree (30 shuffles, 15 adds) instead of 16 separate reductions (~128 ops),
// so the register-blocked dot products pay little for reducing their accumulators. Its loops
// are unrolled so a caller's accumulator array can stay in registers (a rolled loop over it
// made GCC keep the array in memory, storing every accumulator at every step).
inline __m512 hsum16x16(const __m512 v[16]) {
  // 16 -> 8: per 128-bit lane, (a0+a2, b0+b2, a1+a3, b1+b3) for each pair (a, b).
  __m512 t[8];
  WHALE_UNROLL512
  for (int m = 0; m < 8; ++m)
    t[m] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * m], v[2 * m + 1]), _mm512_unpackhi_ps(v[2 * m], v[2 * m + 1]));
  // 8 -> 4: per 128-bit lane, one partial sum of each of four sources, in source order.
  __m512 u[4];
  WHALE_UNROLL512
  for (int m = 0; m < 4; ++m) {
    const __m512d x = _mm512_castps_pd(t[2 * m]), y = _mm512_castps_pd(t[2 * m + 1]);
    u[m] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // 4 -> 2 -> 1: add the four 128-bit lanes of each u, gathering u[m]'s result in lane group m.
  const __m512 w0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 w1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w0, w1, _MM_SHUFFLE(3, 1, 3, 1)));
}

// The low n (0..16) lanes, as a mask for masked loads and stores of a vector's tail.
inline __mmask16 lanes(int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1); }

// The i-th activation row (as type A) of rows stored `stride` bytes apart.
template <class A>
inline const A* act_row(const void* act, size_t stride, int t) {
  return reinterpret_cast<const A*>(static_cast<const uint8_t*>(act) + stride * t);
}

// Calls impl<k> for nt activation rows, k <= 8 at a time (callers may pass more rows than one
// instantiation takes: the rest go in further calls), keeping per-token state in registers.
#define WHALE_AVX512_NT_DISPATCH(impl, n, w, act, stride, nt, out, out_stride)              \
  do {                                                                                \
    const void* w_ = (w);                                                             \
    for (int t0_ = 0; t0_ < (nt); t0_ += 8) {                                         \
      const void* act_ = static_cast<const uint8_t*>(act) + (stride) * t0_;           \
      float* out_ = (out) + (out_stride) * t0_;                                        \
      const int k_ = (nt) - t0_ < 8 ? (nt) - t0_ : 8;                                  \
      switch (k_) {                                                                   \
        case 1: impl<1>(n, w_, act_, stride, out_, out_stride); break;            \
        case 2: impl<2>(n, w_, act_, stride, out_, out_stride); break;            \
        case 3: impl<3>(n, w_, act_, stride, out_, out_stride); break;            \
        case 4: impl<4>(n, w_, act_, stride, out_, out_stride); break;            \
        case 5: impl<5>(n, w_, act_, stride, out_, out_stride); break;            \
        case 6: impl<6>(n, w_, act_, stride, out_, out_stride); break;            \
        case 7: impl<7>(n, w_, act_, stride, out_, out_stride); break;            \
        case 8: impl<8>(n, w_, act_, stride, out_, out_stride); break;            \
        default: break;                                                               \
      }                                                                               \
    }                                                                                 \
  } while (0)

}  // namespace whale::kernels::avx512
