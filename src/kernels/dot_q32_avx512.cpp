// AVX-512 VNNI dot products of Q4_0, Q5_0 and Q8_0 weight rows against Q8_0 activations.
//
// vpdpbusd multiplies unsigned by signed bytes, so each weight level is stored shifted up to an
// unsigned byte u = q + c (c = 8, 16, 128 for Q4_0, Q5_0, Q8_0) and the integer block sum is
//   Σ q·a = Σ u·a − c·Σ a,
// both terms exact int32 (c·Σa itself comes from a vpdpbusd against the constant byte c).
// Two 32-element blocks fill one zmm: lanes 0-7 hold partial sums of the even block, 8-15 of the
// odd one. The f16 block scales of 16 blocks are fetched with one gather and one vcvtph2ps for
// the weights and for each activation row, multiplied once, and spread to the block pair's lanes
// with a permute. The partial int32 sums are converted lane by lane and fused into 16 f32
// accumulators, so only f32 rounding differs from the scalar twin.
#include "kernels/simd_avx512.h"  // first: includes immintrin.h (see there)
#include "kernels/avx512_kernels.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::avx512 {
namespace {

// The 32 nibbles of two Q4_0-style qs arrays (low nibble = element j, high = element j+16) as 64
// bytes in element order: 128-bit lanes [q0 low, q0 high, q1 low, q1 high].
inline __m512i nibbles_2x16(const uint8_t* q0, const uint8_t* q1) {
  __m512i v = _mm512_broadcast_i32x4(load16(q0));
  v = _mm512_mask_broadcast_i32x4(v, 0xFF00, load16(q1));
  v = _mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4);
  return _mm512_and_si512(v, _mm512_set1_epi8(15));
}
// One block's nibbles in the low half, zeros above.
inline __m512i nibbles_1x16(const uint8_t* q0) {
  __m512i v = _mm512_maskz_broadcast_i32x4(0x00FF, load16(q0));
  v = _mm512_mask_srli_epi16(v, 0x0000FF00u, v, 4);
  return _mm512_and_si512(v, _mm512_set1_epi8(15));
}

// Weight types: unsigned levels (q + kOffset) of two consecutive blocks, or of one block with
// the high half left to the caller (it is multiplied by zero activations).
struct Q4_0W {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  static __m512i levels2(const Block* x) { return nibbles_2x16(x[0].qs, x[1].qs); }
  static __m512i levels1(const Block* x) { return nibbles_1x16(x[0].qs); }
};
struct Q5_0W {
  using Block = BlockQ5_0;
  static constexpr int kOffset = 16;
  static __m512i levels2(const Block* x) {
    const uint64_t hi = load_u32(x[0].qh) | static_cast<uint64_t>(load_u32(x[1].qh)) << 32;
    const __m512i v = nibbles_2x16(x[0].qs, x[1].qs);
    return _mm512_mask_add_epi8(v, _cvtu64_mask64(hi), v, _mm512_set1_epi8(16));
  }
  static __m512i levels1(const Block* x) {
    const __m512i v = nibbles_1x16(x[0].qs);
    return _mm512_mask_add_epi8(v, _cvtu64_mask64(load_u32(x[0].qh)), v, _mm512_set1_epi8(16));
  }
};
struct Q8_0W {
  using Block = BlockQ8_0;
  static constexpr int kOffset = 128;
  static __m512i levels2(const Block* x) {
    return _mm512_xor_si512(load_2x32(x[0].qs, x[1].qs), _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  static __m512i levels1(const Block* x) {
    return _mm512_xor_si512(_mm512_zextsi256_si512(load32(x[0].qs)),
                            _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// The f16 field at offset 0 of `count` (1..16, mask k) blocks `offsets` bytes apart, as f32
// (lanes past count are 0). Reads 4 bytes per block, all inside the block.
inline __m512 scales16(const void* first, __m512i offsets, __mmask16 k) {
  const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, offsets, first, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
}

template <class W, int NT>
void dot_sym(int64_t n, const void* w, const void* act, size_t stride, float* out,
             size_t out_stride) {
  using Block = typename W::Block;
  const auto* x = static_cast<const Block*>(w);
  const BlockQ8_0* a[NT];
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) a[t] = act_row<BlockQ8_0>(act, stride, t);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i w_off = _mm512_mullo_epi32(iota, _mm512_set1_epi32(sizeof(Block)));
  const __m512i a_off = _mm512_mullo_epi32(iota, _mm512_set1_epi32(sizeof(BlockQ8_0)));
  const __m512i pair0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i two = _mm512_set1_epi32(2);
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(W::kOffset));
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[NT];
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();

  // One block pair (or a lone last block) for every token: lanes of `av` past the block are 0.
  auto step = [&](const __m512i q, const __m512i pidx, const __m512 (&s)[NT], auto&& load_act) {
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) {
      const __m512i av = load_act(t);
      const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, q, av),
                                         _mm512_dpbusd_epi32(zero, offset, av));
      acc[t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pidx, s[t]), _mm512_cvtepi32_ps(p), acc[t]);
    }
  };

  const int64_t nb = n / kQK;
  for (int64_t b0 = 0; b0 < nb; b0 += 16) {
    const int cnt = nb - b0 < 16 ? static_cast<int>(nb - b0) : 16;
    const __mmask16 k = static_cast<__mmask16>(cnt == 16 ? 0xFFFFu : (1u << cnt) - 1);
    const __m512 sw = scales16(&x[b0], w_off, k);
    __m512 s[NT];  // weight scale × activation scale of the 16 blocks
    WHALE_UNROLL512
    for (int t = 0; t < NT; ++t) s[t] = _mm512_mul_ps(sw, scales16(&a[t][b0], a_off, k));
    __m512i pidx = pair0;
    int j = 0;
    for (; j + 2 <= cnt; j += 2) {
      const int64_t b = b0 + j;
      step(W::levels2(&x[b]), pidx, s, [&](int t) { return load_2x32(a[t][b].qs, a[t][b + 1].qs); });
      pidx = _mm512_add_epi32(pidx, two);
    }
    if (j < cnt) {
      const int64_t b = b0 + j;
      step(W::levels1(&x[b]), pidx, s, [&](int t) { return _mm512_zextsi256_si512(load32(a[t][b].qs)); });
    }
  }
  WHALE_UNROLL512
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

template <int NT>
void q4_0_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_sym<Q4_0W, NT>(n, w, a, s, o, os);
}
template <int NT>
void q5_0_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_sym<Q5_0W, NT>(n, w, a, s, o, os);
}
template <int NT>
void q8_0_impl(int64_t n, const void* w, const void* a, size_t s, float* o, size_t os) {
  dot_sym<Q8_0W, NT>(n, w, a, s, o, os);
}

}  // namespace

void dot_q4_0(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q4_0_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_q5_0(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q5_0_impl, n, w, act, stride, nt, out, out_stride);
}
void dot_q8_0(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out,
              size_t out_stride) {
  WHALE_AVX512_NT_DISPATCH(q8_0_impl, n, w, act, stride, nt, out, out_stride);
}

}  // namespace whale::kernels::avx512
