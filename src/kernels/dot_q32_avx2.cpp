// AVX2 dot products of the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL)
// against Q8_0 / Q8_1 activations. Each weight block is decoded once to 32 bytes of levels
// and reused for up to 4 activation rows. Integer block sums equal the scalar twin's exactly;
// they are scaled lane-wise (8 partial int32 sums → f32 FMA), so the f32 result differs from
// the scalar twin only in rounding.
#include "kernels/avx2_kernels.h"
#include "kernels/simd_avx2.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::avx2 {
namespace {

// Levels of one weight block as 32 bytes in element order, plus whether they are signed.
struct Q4_0W {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = true;
  static __m256i levels(const Block& b) {
    return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8));
  }
};
struct Q5_0W {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = true;
  static __m256i levels(const Block& b) {
    const __m256i hi = _mm256_and_si256(bits32_to_bytes(b.qh), _mm256_set1_epi8(16));
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b.qs), hi), _mm256_set1_epi8(16));
  }
};
struct Q8_0W {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true;
  static __m256i levels(const Block& b) { return load32(b.qs); }
};
struct IQ4NLW {
  using Block = BlockIQ4NL;
  static constexpr bool kSigned = true;
  static __m256i levels(const Block& b) {
    const __m256i table = _mm256_broadcastsi128_si256(load16(kIQ4NLValues));
    return _mm256_shuffle_epi8(table, nibbles32(b.qs));
  }
};
struct Q4_1W {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false;
  static __m256i levels(const Block& b) { return nibbles32(b.qs); }
};
struct Q5_1W {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false;
  static __m256i levels(const Block& b) {
    const __m256i hi = _mm256_and_si256(bits32_to_bytes(b.qh), _mm256_set1_epi8(16));
    return _mm256_or_si256(nibbles32(b.qs), hi);
  }
};

// Symmetric types against Q8_0: acc += (x.d * a.d) * isum. Two accumulator sets (even and
// odd blocks) so consecutive blocks do not wait on one FMA latency chain.
template <class W, int NT>
void dot_sym(int64_t n, const void* w, const void* act, size_t stride, float* out,
             size_t out_stride) {
  const auto* x = static_cast<const typename W::Block*>(w);
  const BlockQ8_0* a[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8_0>(act, stride, t);
  __m256 acc0[NT], acc1[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  auto step = [&](int64_t b, __m256(&acc)[NT]) {
    const __m256i q = W::levels(x[b]);
    const __m256i qabs = _mm256_sign_epi8(q, q);
    const float xd = f16(x[b].d);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i p = dot_u8s8(qabs, _mm256_sign_epi8(load32(a[t][b].qs), q));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * f16(a[t][b].d)), _mm256_cvtepi32_ps(p), acc[t]);
    }
  };
  const int64_t nb = n / kQK;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    step(b, acc0);
    step(b + 1, acc1);
  }
  if (b < nb) step(b, acc0);
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(_mm256_add_ps(acc0[t], acc1[t]));
}

// Types with a min against Q8_1: acc += (x.d * a.d) * isum + x.m * a.s.
template <class W, int NT>
void dot_min(int64_t n, const void* w, const void* act, size_t stride, float* out,
             size_t out_stride) {
  const auto* x = static_cast<const typename W::Block*>(w);
  const BlockQ8_1* a[NT];
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8_1>(act, stride, t);
  __m256 acc0[NT], acc1[NT];
  __m128 mins[NT];  // the x.m * a.s terms, summed in lane 0
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t) {
    acc0[t] = acc1[t] = _mm256_setzero_ps();
    mins[t] = _mm_setzero_ps();
  }
  auto step = [&](int64_t b, __m256(&acc)[NT]) {
    const __m256i q = W::levels(x[b]);
    const float xd = f16(x[b].d), xm = f16(x[b].m);
    WHALE_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256i p = dot_u8s8(q, load32(a[t][b].qs));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * f16(a[t][b].d)), _mm256_cvtepi32_ps(p), acc[t]);
      mins[t] = _mm_fmadd_ss(_mm_set_ss(xm), _mm_set_ss(f16(a[t][b].s)), mins[t]);
    }
  };
  const int64_t nb = n / kQK;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    step(b, acc0);
    step(b + 1, acc1);
  }
  if (b < nb) step(b, acc0);
  WHALE_UNROLL
  for (int t = 0; t < NT; ++t)
    out[t * out_stride] = hsum(_mm256_add_ps(acc0[t], acc1[t])) + _mm_cvtss_f32(mins[t]);
}

#define WHALE_DEFINE_IMPL(name, body, W) \
  template <int NT>                      \
  void name(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) { \
    body<W, NT>(n, w, a, s, o, os);      \
  }
WHALE_DEFINE_IMPL(q4_0_impl, dot_sym, Q4_0W)
WHALE_DEFINE_IMPL(q5_0_impl, dot_sym, Q5_0W)
WHALE_DEFINE_IMPL(q8_0_impl, dot_sym, Q8_0W)
WHALE_DEFINE_IMPL(iq4_nl_impl, dot_sym, IQ4NLW)
WHALE_DEFINE_IMPL(q4_1_impl, dot_min, Q4_1W)
WHALE_DEFINE_IMPL(q5_1_impl, dot_min, Q5_1W)
#undef WHALE_DEFINE_IMPL

}  // namespace

#define WHALE_DEFINE_DOT(name, impl)                                                          \
  void name(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,     \
            size_t out_stride) {                                                              \
    WHALE_AVX2_NT_DISPATCH(impl, n, w, act, stride, nt, out, out_stride);                     \
  }
WHALE_DEFINE_DOT(dot_q4_0, q4_0_impl)
WHALE_DEFINE_DOT(dot_q5_0, q5_0_impl)
WHALE_DEFINE_DOT(dot_q8_0, q8_0_impl)
WHALE_DEFINE_DOT(dot_iq4_nl, iq4_nl_impl)
WHALE_DEFINE_DOT(dot_q4_1, q4_1_impl)
WHALE_DEFINE_DOT(dot_q5_1, q5_1_impl)
#undef WHALE_DEFINE_DOT

}  // namespace whale::kernels::avx2
