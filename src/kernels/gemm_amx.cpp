// AMX-BF16 tile products for prefill (contracts in kernel_table.h next to kGemmRows).
//
// Prompt processing multiplies each weight row by many tokens, so it is compute-bound; one
// tdpbf16ps does 16x16x32 multiply-adds, ~30x what VNNI dot products manage per cycle. The
// price is bf16 numerics: weights are decoded (dequantize_row's f32 values, rounded to nearest
// even) into a panel of kGemmRows rows once per call and reused for every token; activations
// are rounded to bf16 once per product. DeepSeek's own inference code computes its GEMMs from
// bf16 operands the same way.
//
// Everything here runs only after dispatch.cpp has checked AMX-TILE, AMX-BF16 and AVX512-BF16
// and the OS granted tile state (cpu_features). No inline helper is shared by name with code
// built for another ISA (see simd_avx512.h for why): all helpers are in an unnamed namespace.
#include "kernels/intrinsics_avx512.h"

#include <algorithm>
#include <cstring>

#include "kernels/amx_kernels.h"
#include "kernels/avx512_kernels.h"
#include "kernels/scalar_kernels.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::amx {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }

// 32 floats (lo: elements 0-15, hi: 16-31) rounded to bf16 and stored as 64 bytes.
inline void store_bf16(uint16_t* out, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(out, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
}
// 16 bytes widened to 16 int32 lanes.
inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i i8x16(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512 to_f32(__m512i v) { return _mm512_cvtepi32_ps(v); }

// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block (spec §2.4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Every decoder below computes each value with the same f32 operations, in the same order, as
// the tensor layer's dequantize_row (the file is built with -ffp-contract=off), so the bf16
// results equal the scalar twin's except where AVX512-BF16 flushes subnormals.

void decode_q4_0(const BlockQ4_0* x, uint16_t* out, int64_t n) {
  const __m512i m4 = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
  for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
    const __m512 d = _mm512_set1_ps(f16(x[b].d));
    const __m512i q = u8x16(x[b].qs);
    const __m512 lo = _mm512_mul_ps(to_f32(_mm512_sub_epi32(_mm512_and_si512(q, m4), eight)), d);
    const __m512 hi = _mm512_mul_ps(to_f32(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight)), d);
    store_bf16(out, lo, hi);
  }
}

void decode_q5_0(const BlockQ5_0* x, uint16_t* out, int64_t n) {
  const __m512i m4 = _mm512_set1_epi32(15), sixteen = _mm512_set1_epi32(16);
  for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
    uint32_t h;
    std::memcpy(&h, x[b].qh, 4);
    const __m512 d = _mm512_set1_ps(f16(x[b].d));
    const __m512i q = u8x16(x[b].qs);
    // Level = nibble + 16·(high bit) - 16: subtract 16 only where the high bit is clear.
    const __m512i lo = _mm512_mask_sub_epi32(_mm512_and_si512(q, m4), static_cast<__mmask16>(~h), _mm512_and_si512(q, m4), sixteen);
    const __m512i q_hi = _mm512_srli_epi32(q, 4);
    const __m512i hi = _mm512_mask_sub_epi32(q_hi, static_cast<__mmask16>(~(h >> 16)), q_hi, sixteen);
    store_bf16(out, _mm512_mul_ps(to_f32(lo), d), _mm512_mul_ps(to_f32(hi), d));
  }
}

void decode_q8_0(const BlockQ8_0* x, uint16_t* out, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
    const __m512 d = _mm512_set1_ps(f16(x[b].d));
    store_bf16(out, _mm512_mul_ps(to_f32(i8x16(x[b].qs)), d), _mm512_mul_ps(to_f32(i8x16(x[b].qs + 16)), d));
  }
}

template <bool kFive, class Block>
void decode_q45_k(const Block* x, uint16_t* out, int64_t n) {
  const __m512i m4 = _mm512_set1_epi32(15), sixteen = _mm512_set1_epi32(16);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const Block& blk = x[b];
    const float d = f16(blk.d), dmin = f16(blk.dmin);
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFive) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
    for (int j = 0; j < 8; ++j, out += 32) {
      uint8_t sc, mn;
      scale_min_k4(j, blk.scales, &sc, &mn);
      const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(sc));
      const __m512 m1 = _mm512_set1_ps(dmin * static_cast<float>(mn));
      const uint8_t* q = blk.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      __m512i v0 = _mm512_and_si512(_mm512_srli_epi32(u8x16(q), shift), m4);
      __m512i v1 = _mm512_and_si512(_mm512_srli_epi32(u8x16(q + 16), shift), m4);
      if constexpr (kFive) {
        const __mmask32 hb = _mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << j)));
        v0 = _mm512_mask_add_epi32(v0, static_cast<__mmask16>(hb), v0, sixteen);
        v1 = _mm512_mask_add_epi32(v1, static_cast<__mmask16>(hb >> 16), v1, sixteen);
      }
      store_bf16(out, _mm512_sub_ps(_mm512_mul_ps(d1, to_f32(v0)), m1),
                 _mm512_sub_ps(_mm512_mul_ps(d1, to_f32(v1)), m1));
    }
  }
}

void decode_q6_k(const BlockQ6K* x, uint16_t* out, int64_t n) {
  const __m512i m4 = _mm512_set1_epi32(15), m3 = _mm512_set1_epi32(3), off = _mm512_set1_epi32(32);
  for (int64_t b = 0; b < n / kQKK; ++b, out += kQKK) {
    const BlockQ6K& blk = x[b];
    const float d = f16(blk.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk.ql + 64 * h;
      const uint8_t* qh = blk.qh + 32 * h;
      uint16_t* oh = out + 128 * h;
      // Element 32g + l of this half (g = 0..3) for l in [l0, l0 + 16): scale 8h + 2g + l0/16.
      __m512 v[4][2];
      for (int half = 0; half < 2; ++half) {
        const int l0 = 16 * half;
        const __m512i a = u8x16(ql + l0), c = u8x16(ql + l0 + 32), hb = u8x16(qh + l0);
        const __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_slli_epi32(_mm512_and_si512(hb, m3), 4)),
            _mm512_or_si512(_mm512_and_si512(c, m4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2), m3), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 4), m3), 4)),
            _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_srli_epi32(hb, 6), 4))};
        for (int g = 0; g < 4; ++g) {
          const float ds = d * static_cast<float>(blk.scales[8 * h + 2 * g + half]);
          v[g][half] = _mm512_mul_ps(_mm512_set1_ps(ds), to_f32(_mm512_sub_epi32(q[g], off)));
        }
      }
      for (int g = 0; g < 4; ++g) store_bf16(oh + 32 * g, v[g][0], v[g][1]);
    }
  }
}

void decode_f32(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) store_bf16(out + i, _mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + 16));
  if (i < n) {  // K is a multiple of 32 on this path, but stay correct for any n
    float tail[32] = {};
    std::memcpy(tail, x + i, static_cast<size_t>(n - i) * sizeof(float));
    uint16_t t16[32];
    store_bf16(t16, _mm512_loadu_ps(tail), _mm512_loadu_ps(tail + 16));
    std::memcpy(out + i, t16, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

void decode_f16(const uint16_t* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    store_bf16(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))),
               _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 16))));
  if (i < n) {
    float tail[32] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = f16(x[j]);
    decode_f32(tail, out + i, n - i);
  }
}

}  // namespace

void decode_bf16(GgmlType t, const void* row, uint16_t* out, int64_t K) {
  switch (t) {
    case GgmlType::Q4_0: return decode_q4_0(static_cast<const BlockQ4_0*>(row), out, K);
    case GgmlType::Q5_0: return decode_q5_0(static_cast<const BlockQ5_0*>(row), out, K);
    case GgmlType::Q8_0: return decode_q8_0(static_cast<const BlockQ8_0*>(row), out, K);
    case GgmlType::Q4_K: return decode_q45_k<false>(static_cast<const BlockQ4K*>(row), out, K);
    case GgmlType::Q5_K: return decode_q45_k<true>(static_cast<const BlockQ5K*>(row), out, K);
    case GgmlType::Q6_K: return decode_q6_k(static_cast<const BlockQ6K*>(row), out, K);
    case GgmlType::F32: return decode_f32(static_cast<const float*>(row), out, K);
    case GgmlType::F16: return decode_f16(static_cast<const uint16_t*>(row), out, K);
    case GgmlType::BF16: std::memcpy(out, row, static_cast<size_t>(K) * sizeof(uint16_t)); return;
    default: return scalar::decode_bf16(t, row, out, K);  // the twin: dequantize_row, then rounding
  }
}

void pack_bf16(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group) {
  // Tile by tile (it stays in L1 while its 16 tokens fill it): chunk c of token i is 16 bf16
  // pairs; pair p goes to row p of the tile, column i, i.e. 16 dwords 64 bytes apart. Plain
  // stores: a scatter instruction is several times slower here.
  auto* tile = reinterpret_cast<uint32_t*>(group);
  alignas(64) uint32_t pairs[16];
  for (int64_t c = 0; c < K / kGemmChunk; ++c, tile += 256) {
    for (int64_t i = 0; i < 16; ++i) {
      if (i < n_valid) {
        const float* xc = x + static_cast<size_t>(i) * x_stride + static_cast<size_t>(c * kGemmChunk);
        _mm512_store_si512(pairs, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_loadu_ps(xc + 16), _mm512_loadu_ps(xc))));
        for (int p = 0; p < 16; ++p) tile[p * 16 + i] = pairs[p];
      } else {
        for (int p = 0; p < 16; ++p) tile[p * 16 + i] = 0;
      }
    }
  }
}

void gemm_bf16(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks, int64_t n_tokens,
               int64_t n_rows, float* y, size_t y_stride, bool out_rows) {
  // Tiles 0-3 accumulate C for (rows 0-15 | 16-31) x (tokens 0-15 | 16-31) of a 32-token group;
  // 4 and 5 hold the two 16-row halves of the panel's current chunk, 6 and 7 the two 16-token
  // halves of the packed activations: 4 loads feed 4 products.
  const TileConfig cfg = full_tiles();
  _tile_loadconfig(&cfg);
  const int64_t chunks = K / kGemmChunk;
  const size_t a_stride = static_cast<size_t>(gemm_panel_stride(K)) * sizeof(uint16_t);
  const uint16_t* a1 = panel + 16 * gemm_panel_stride(K);
  alignas(64) float c[4][256];
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemmTokens) {
    const uint16_t* b0 = packed + (t0 / 16) * packed_chunks * 512;
    const uint16_t* b1 = b0 + packed_chunks * 512;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t kc = 0; kc < chunks; ++kc) {
      _tile_loadd(4, panel + kc * kGemmChunk, a_stride);
      _tile_loadd(5, a1 + kc * kGemmChunk, a_stride);
      _tile_loadd(6, b0 + kc * 512, 64);
      _tile_loadd(7, b1 + kc * 512, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c[0], 64);
    _tile_stored(1, c[1], 64);
    _tile_stored(2, c[2], 64);
    _tile_stored(3, c[3], 64);
    // c[2 * (r / 16) + (t / 16)][(r % 16) * 16 + t % 16] is row r, token t0 + t.
    const int64_t nt = std::min(kGemmTokens, n_tokens - t0);
    if (out_rows) {
      for (int64_t r = 0; r < n_rows; ++r) {
        const float* cr = c[2 * (r / 16)] + (r % 16) * 16;
        float* yr = y + static_cast<size_t>(r) * y_stride + t0;
        std::memcpy(yr, cr, static_cast<size_t>(std::min<int64_t>(nt, 16)) * sizeof(float));
        if (nt > 16) std::memcpy(yr + 16, cr + 256, static_cast<size_t>(nt - 16) * sizeof(float));
      }
      continue;
    }
    for (int64_t t = 0; t < nt; ++t) {
      float* yt = y + static_cast<size_t>(t0 + t) * y_stride;
      const float* ct = c[t / 16] + t % 16;
      for (int64_t r = 0; r < n_rows; ++r) yt[r] = ct[(r / 16) * 512 + (r % 16) * 16];
    }
  }
  _tile_release();
}

}  // namespace whale::kernels::amx

namespace whale::kernels {

KernelTable make_amx_table() {
  KernelTable t = make_avx512_table();
  t.name = "avx512-amx";
  t.gemm_prompts = true;
  t.pack_bf16 = amx::pack_bf16;
  t.decode_bf16 = amx::decode_bf16;
  t.gemm_bf16 = amx::gemm_bf16;
  t.pack_latent_bf16 = amx::pack_latent_bf16;
  t.mla_pair_scores = amx::mla_pair_scores;
  t.mla_pair_values = amx::mla_pair_values;
  return t;
}

}  // namespace whale::kernels
