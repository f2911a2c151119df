// AVX2 activation quantisers, byte-identical to the reference ones (spec §3.1, §3.7) so the
// integer sums of the AVX2 dot products equal the scalar twin's: the same max, the same f32
// scale, one rounded multiply per element, then roundf (ties away) for Q8_0/Q8_1 and
// ties-to-even for Q8_K, reproduced exactly with vector rounding.
#include "kernels/avx2_kernels.h"
#include "kernels/simd_avx2.h"
#include "tensor/float_convert.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::avx2 {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline __m256 vabs(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// roundf: truncate, then step away from zero when the dropped fraction is at least one half
// (v − trunc(v) is exact in f32).
inline __m256 round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 half = _mm256_cmp_ps(vabs(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
  return _mm256_add_ps(t, _mm256_and_ps(half, step));
}

// 32 int32 (four vectors, element order) -> 32 int8 stored at dst.
inline void pack_store(__m256i v0, __m256i v1, __m256i v2, __m256i v3, int8_t* dst) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

// One 32-block of Q8_0/Q8_1: returns the unrounded d and writes qs.
inline float q8_block(const float* x, int8_t* qs) {
  __m256 v[4];
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    m = _mm256_max_ps(m, vabs(v[i]));
  }
  const float amax = hmax(m);
  const float d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[i], id)));
  pack_store(q[0], q[1], q[2], q[3], qs);
  return d;
}

}  // namespace

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) y[b].d = f32_to_fp16(q8_block(x + b * kQK, y[b].qs));
}

void quantize_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float d = q8_block(x + b * kQK, y[b].qs);
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), load32(y[b].qs));
    const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    y[b].d = f32_to_fp16(d);
    y[b].s = f32_to_fp16(static_cast<float>(_mm_cvtsi128_si32(s)) * d);
  }
}

void quantize_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockQ8K& blk = y[b];
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < kQKK; i += 8) m = _mm256_max_ps(m, vabs(_mm256_loadu_ps(x + i)));
    const float amax = hmax(m);
    if (amax == 0.0f) {
      std::memset(&blk, 0, sizeof blk);
      continue;
    }
    // The signed value of the first element of largest magnitude (the reference's strict >).
    float max = 0.0f;
    for (int j = 0; j < kQKK; ++j)
      if (x[j] == amax || x[j] == -amax) {
        max = x[j];
        break;
      }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    for (int i = 0; i < kQKK; i += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vs),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(r), top);
      }
      pack_store(q[0], q[1], q[2], q[3], blk.qs + i);
      // bsums of the two 16-element groups just written.
      const __m256i s32 = _mm256_madd_epi16(
          _mm256_maddubs_epi16(_mm256_set1_epi8(1), load32(blk.qs + i)), _mm256_set1_epi16(1));
      __m256i h = _mm256_hadd_epi32(s32, s32);
      h = _mm256_hadd_epi32(h, h);
      blk.bsums[i / 16] = static_cast<int16_t>(_mm256_extract_epi32(h, 0));
      blk.bsums[i / 16 + 1] = static_cast<int16_t>(_mm256_extract_epi32(h, 4));
    }
    const float d = 1.0f / iscale;
    std::memcpy(&blk.d, &d, 4);
  }
}

}  // namespace whale::kernels::avx2
