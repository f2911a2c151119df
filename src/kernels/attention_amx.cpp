// MLA attention on tile products: packing latent-cache rows (PackLatentFn in kernel_table.h),
// and decode scores and weighted sums read straight from a pair-layout BF16 cache
// (MlaPairScoresFn, MlaPairValuesFn). Twins: gemm_scalar.cpp.
//
// Decode attention packs every cache row it reads, once per token and layer, so the packing
// must cost about as much as reading the row: 4096 f16 rows of 576 values are ~4.7 MB, which
// this machine streams in ~0.25 ms. Each group of 16 keys is converted one 32-value chunk at a
// time (one zmm of bf16 per key), then
//  - the keys' tiles are that 16 x 16 matrix of dwords transposed (64 shuffles for 16 tile
//    rows, where storing every dword alone costs 256 stores), and
//  - the values' tiles interleave the words of keys 2p and 2p+1 (two permutes per pair).
// Built with the AMX flags for AVX512-BF16's rounding conversion; all helpers are in an unnamed
// namespace (see simd_avx512.h for why).
#include "kernels/intrinsics_avx512.h"

#include <algorithm>
#include <type_traits>
#include <cstring>

#include "kernels/amx_kernels.h"
#include "kernels/scalar_kernels.h"

namespace whale::kernels::amx {
namespace {

// Values [d0, d0 + 32) of a cache row as 32 bf16 words, in order (nearest even).
inline __m512i row_chunk_bf16(const uint8_t* row, GgmlType type, int64_t d0) {
  if (type == GgmlType::BF16) {  // a row of a pair-layout cache: the low word of each dword
    const auto* p = reinterpret_cast<const __m512i*>(row + d0 * 4);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(_mm512_loadu_si512(p))),
                              _mm512_cvtepi32_epi16(_mm512_loadu_si512(p + 1)), 1);
  }
  __m512 lo, hi;
  if (type == GgmlType::F16) {
    const auto* h = reinterpret_cast<const __m256i*>(row + d0 * 2);
    lo = _mm512_cvtph_ps(_mm256_loadu_si256(h));
    hi = _mm512_cvtph_ps(_mm256_loadu_si256(h + 1));
  } else if (type == GgmlType::F32) {
    const auto* f = reinterpret_cast<const float*>(row) + d0;
    lo = _mm512_loadu_ps(f);
    hi = _mm512_loadu_ps(f + 16);
  } else {  // Q8_0: d0 starts a block of an f16 scale and 32 int8 (34 bytes)
    const uint8_t* b = row + d0 / 32 * 34;
    uint16_t dh;
    std::memcpy(&dh, b, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh));
    lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)))), d);
    hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18)))), d);
  }
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// r[i] (16 dwords each) becomes column i: afterwards r[j] holds dword j of every input row.
inline void transpose16x16(__m512i r[16]) {
  __m512i t[16], u[16];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {  // per 128-bit lane L: rows 2k, 2k+1 at columns 4L..4L+3, interleaved
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {  // u[4k + j], lane L: column 4L + j of rows 4k .. 4k + 3
    u[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {  // column 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j]
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 2, 3, 2));
    r[j] = _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(2, 0, 2, 0));
    r[4 + j] = _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(3, 1, 3, 1));
    r[8 + j] = _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + j] = _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

}  // namespace

void pack_latent_bf16(const uint8_t* const* rows, GgmlType type, int64_t n_valid, int64_t R, int64_t W,
                      uint16_t* keys, uint16_t* values, size_t value_group_stride) {
  if (type != GgmlType::F16 && type != GgmlType::F32 && type != GgmlType::Q8_0 && type != GgmlType::BF16)
    return scalar::pack_latent_bf16(rows, type, n_valid, R, W, keys, values, value_group_stride);
  // Word w of the result: word w/2 of a (even w) or of b (odd w); the second half of the words.
  alignas(64) static constexpr uint16_t kLo[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                                   8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  const __m512i lo_idx = _mm512_load_si512(kLo);
  const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(16));
  const int64_t chunks = W / 32;
  for (int64_t g = 0; g < 2; ++g) {
    for (int64_t c = 0; c < chunks; ++c) {
      __m512i r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = g * 16 + i < n_valid ? row_chunk_bf16(rows[g * 16 + i], type, c * 32) : _mm512_setzero_si512();
      if (c * 32 < R) {
        // Tile row g*8 + p of dim groups 2c and 2c + 1: keys 2p, 2p + 1 of this group, per dim.
        uint16_t* v0 = values + static_cast<size_t>(2 * c) * value_group_stride + g * 8 * 32;
        uint16_t* v1 = v0 + value_group_stride;
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p) {
          _mm512_storeu_si512(v0 + p * 32, _mm512_permutex2var_epi16(r[2 * p], lo_idx, r[2 * p + 1]));
          _mm512_storeu_si512(v1 + p * 32, _mm512_permutex2var_epi16(r[2 * p], hi_idx, r[2 * p + 1]));
        }
      }
      transpose16x16(r);
      uint16_t* tile = keys + (g * chunks + c) * 512;
#pragma GCC unroll 16
      for (int p = 0; p < 16; ++p) _mm512_storeu_si512(tile + p * 32, r[p]);
    }
  }
}

void mla_pair_scores(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t W, const uint16_t* q,
                     float* s, size_t s_stride) {
  // Tiles 0-3: C for (group j | j + 1) x (even | odd rows), pairs x heads; 4, 5: the even and
  // odd query tiles of a chunk; 6, 7: the chunk's 16 values of both groups' 16 pairs.
  const TileConfig cfg = full_tiles();
  _tile_loadconfig(&cfg);
  const size_t ps = 2 * row_bytes;
  const int64_t chunks = W / 16;
  alignas(64) static constexpr uint32_t kLo[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
  const __m512i lo_idx = _mm512_load_si512(kLo);
  const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
  alignas(64) float c[4][256];
  // Every row of the two groups is a stream of 64-byte chunks read one per step; each step
  // prefetches, for all 32 rows, the chunk kAhead steps on (past a row's end: the next two
  // groups' rows). Tile loads of lines still in DRAM wait in order, and a 16-row stride is a
  // pattern the hardware prefetchers follow poorly, so without this a core streamed the cache
  // at about half the rate it streams weights.
  constexpr int64_t kAhead = 8;
  for (int64_t j = 0; j < n_groups; j += 2) {
    const bool two = j + 1 < n_groups;
    const uint8_t* g0 = groups[j];
    const uint8_t* g1 = two ? groups[j + 1] : g0;
    const uint8_t* next0 = j + 2 < n_groups ? groups[j + 2] : nullptr;
    const uint8_t* next1 = j + 3 < n_groups ? groups[j + 3] : nullptr;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t pf = ch + kAhead;
      const uint8_t* p0 = pf < chunks ? g0 + pf * 64 : next0 ? next0 + (pf - chunks) * 64 : nullptr;
      const uint8_t* p1 = pf < chunks ? (two ? g1 + pf * 64 : nullptr) : next1 ? next1 + (pf - chunks) * 64 : nullptr;
      for (int r = 0; r < 16; ++r) {
        if (p0) _mm_prefetch(reinterpret_cast<const char*>(p0 + r * ps), _MM_HINT_T0);
        if (p1) _mm_prefetch(reinterpret_cast<const char*>(p1 + r * ps), _MM_HINT_T0);
      }
      _tile_loadd(4, q + 2 * ch * 512, 64);
      _tile_loadd(5, q + (2 * ch + 1) * 512, 64);
      _tile_loadd(6, g0 + ch * 64, ps);
      _tile_dpbf16ps(0, 6, 4);
      _tile_dpbf16ps(1, 6, 5);
      if (two) {
        _tile_loadd(7, g1 + ch * 64, ps);
        _tile_dpbf16ps(2, 7, 4);
        _tile_dpbf16ps(3, 7, 5);
      }
    }
    _tile_stored(0, c[0], 64);
    _tile_stored(1, c[1], 64);
    _tile_stored(2, c[2], 64);
    _tile_stored(3, c[3], 64);
    for (int64_t g = 0; g < (two ? 2 : 1); ++g) {
      // c[2g][p * 16 + h] scores row 2p, c[2g + 1] row 2p + 1: transposed to heads x pairs and
      // interleaved, each head's 32 scores in row order.
      __m512i ev[16], od[16];
#pragma GCC unroll 16
      for (int p = 0; p < 16; ++p) {
        ev[p] = _mm512_load_si512(c[2 * g] + p * 16);
        od[p] = _mm512_load_si512(c[2 * g + 1] + p * 16);
      }
      transpose16x16(ev);
      transpose16x16(od);
      float* sg = s + 32 * (j + g);
#pragma GCC unroll 16
      for (int h = 0; h < 16; ++h) {
        _mm512_storeu_si512(sg + h * s_stride, _mm512_permutex2var_epi32(ev[h], lo_idx, od[h]));
        _mm512_storeu_si512(sg + h * s_stride + 16, _mm512_permutex2var_epi32(ev[h], hi_idx, od[h]));
      }
    }
  }
  _tile_release();
}

void mla_pair_values(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t R, const uint16_t* e,
                     size_t e_stride, float* o, size_t o_stride, const uint8_t* const* prefetch, int64_t n_prefetch) {
  // Tiles 0-3: C for 4 groups of 16 dims (heads x dims); 4: a group's 32 probabilities per
  // head; 5-7: the 16 pairs' values of one dim group (B rows are pairs: the VNNI layout).
  const TileConfig cfg = full_tiles();
  _tile_loadconfig(&cfg);
  const size_t ps = 2 * row_bytes, es = e_stride * sizeof(uint16_t), os = o_stride * sizeof(float);
  // The prefetch groups' lines, spread evenly over the steps (into L2: they are read later).
  const int64_t pf_lines = n_prefetch * static_cast<int64_t>(16 * ps / 64), group_lines = static_cast<int64_t>(16 * ps / 64);
  const int64_t steps = n_groups * ((R + 63) / 64), per_step = (pf_lines + steps - 1) / std::max<int64_t>(1, steps);
  int64_t next_line = 0;
  const auto prefetch_some = [&] {
    for (const int64_t end = std::min(pf_lines, next_line + per_step); next_line < end; ++next_line)
      _mm_prefetch(reinterpret_cast<const char*>(prefetch[next_line / group_lines] + next_line % group_lines * 64),
                   _MM_HINT_T1);
  };
  for (int64_t d = 0; d < R; d += 64) {
    const bool four = d + 64 <= R;  // else 2 dim groups (R is a multiple of 32)
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    // Operands alternate between tile registers (A: 4/5 by group, B: 6/7) so a load never
    // waits for the product still reading the register it would overwrite.
#define WHALE_VALUES_STEP(TA, J)                                                                  \
  do {                                                                                            \
    const uint8_t* v = groups[J] + d * 4;                                                         \
    prefetch_some();                                                                              \
    _tile_loadd(TA, e + 32 * (J), es);                                                            \
    _tile_loadd(6, v, ps);                                                                        \
    _tile_dpbf16ps(0, TA, 6);                                                                     \
    _tile_loadd(7, v + 64, ps);                                                                   \
    _tile_dpbf16ps(1, TA, 7);                                                                     \
    if (four) {                                                                                   \
      _tile_loadd(6, v + 128, ps);                                                                \
      _tile_dpbf16ps(2, TA, 6);                                                                   \
      _tile_loadd(7, v + 192, ps);                                                                \
      _tile_dpbf16ps(3, TA, 7);                                                                   \
    }                                                                                             \
  } while (0)
    int64_t j = 0;
    for (; j + 2 <= n_groups; j += 2) {
      WHALE_VALUES_STEP(4, j);
      WHALE_VALUES_STEP(5, j + 1);
    }
    if (j < n_groups) WHALE_VALUES_STEP(4, j);
#undef WHALE_VALUES_STEP
    _tile_stored(0, o + d, os);
    _tile_stored(1, o + d + 16, os);
    if (four) {
      _tile_stored(2, o + d + 32, os);
      _tile_stored(3, o + d + 48, os);
    }
  }
  _tile_release();
}

}  // namespace whale::kernels::amx
