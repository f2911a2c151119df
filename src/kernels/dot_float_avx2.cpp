// AVX2 dot products for F32, F16 and BF16 weights against f32 activations: weights are widened
// to f32 (F16C for f16, a 16-bit shift for bf16) and multiplied with FMA, 16 elements per step
// in two accumulators per token; the scalar twin sums in index order, so results agree to f32
// rounding. Tails shorter than 16 are done one element at a time.
#include "kernels/avx2_kernels.h"
#include "kernels/simd_avx2.h"
#include "tensor/float_convert.h"

namespace whale::kernels::avx2 {
namespace {

struct F32W {
  static __m256 load8(const void* w, int64_t k) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + k);
  }
  static float one(const void* w, int64_t k) { return static_cast<const float*>(w)[k]; }
};
struct F16W {
  static __m256 load8(const void* w, int64_t k) {
    return _mm256_cvtph_ps(load16(static_cast<const uint16_t*>(w) + k));
  }
  static float one(const void* w, int64_t k) { return f16(static_cast<const uint16_t*>(w)[k]); }
};
struct BF16W {
  static __m256 load8(const void* w, int64_t k) {
    const __m256i v = _mm256_cvtepu16_epi32(load16(static_cast<const uint16_t*>(w) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float one(const void* w, int64_t k) {
    return bf16_to_f32(static_cast<const uint16_t*>(w)[k]);
  }
};

template <class W, int NT>
void dot_float(int64_t n, const void* w, const void* act, size_t stride, float* out,
               size_t out_stride) {
  const float* x[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) x[t] = act_row<float>(act, stride, t);
  __m256 acc0[NT], acc1[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m256 w0 = W::load8(w, k), w1 = W::load8(w, k + 8);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + k), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[t] + k + 8), acc1[t]);
    }
  }
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) {
    float s = hsum(_mm256_add_ps(acc0[t], acc1[t]));
    for (int64_t j = k; j < n; ++j) s += W::one(w, j) * x[t][j];
    out[t * out_stride] = s;
  }
}

template <int NT>
void f32_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_float<F32W, NT>(n, w, a, s, o, os);
}
template <int NT>
void f16_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_float<F16W, NT>(n, w, a, s, o, os);
}
template <int NT>
void bf16_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_float<BF16W, NT>(n, w, a, s, o, os);
}

}  // namespace

void dot_f32w(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX2_NT_DISPATCH(f32_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_f16(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
             size_t out_stride) {
  WHALE_AVX2_NT_DISPATCH(f16_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_bf16(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX2_NT_DISPATCH(bf16_impl, n, w, act, stride, nt, out, out_stride);
}

}  // namespace whale::kernels::avx2
