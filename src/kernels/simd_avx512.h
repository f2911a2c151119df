// Small AVX-512 building blocks shared by the *_avx512.cpp kernels. Include only from files built
// with the AVX-512 flags (names ending in _avx512.cpp). Everything here lives in its own
// namespace so no inline function is shared (by name) with code built for a lesser ISA: the
// linker may keep any one copy of an inline function, and an AVX-512 copy must never end up
// called from the AVX2 or baseline paths.
#pragma once
// GCC 12's AVX-512 headers self-initialise their "undefined" registers, which its
// -Wuninitialized reports at every use (fixed in GCC 13); the code is correct.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

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

// The i-th activation row (as type A) of rows stored `stride` bytes apart.
template <class A>
inline const A* act_row(const void* act, size_t stride, int t) {
  return reinterpret_cast<const A*>(static_cast<const uint8_t*>(act) + stride * t);
}

// Fully unrolls a short loop over tokens or sub-blocks so per-token state stays in registers.
#define WHALE_UNROLL512 _Pragma("GCC unroll 8")

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
