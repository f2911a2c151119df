// Packed block layouts of the ggml quantised types (spec gguf-and-quants.md §2.3-§2.4), exactly
// as they sit in a GGUF file, plus the small decoding helpers that dot-product kernels share
// with the dequantisers. Every struct is standard-layout with no implicit padding: its size is
// static_assert'ed against the spec's "Bytes" column, so a row of blocks can be read in place
// from the mmap'd file (blocks are only 2-byte aligned in files; the f32 of BlockQ8K only
// appears in buffers we allocate ourselves).
//
// Fields named `d`, `m`, `dmin`, `s` of type uint16_t are IEEE binary16 bit patterns: decode
// them with fp16_to_f32 (tensor/float_convert.h). "Element e" is the e-th value of the block in
// row order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace whale {

inline constexpr int kQK = 32;    // elements per block of the 32-element formats
inline constexpr int kQKK = 256;  // elements per K-quant / IQ4_XS super-block

// Q4_0: y = (nibble - 8) * d. qs[j]: low nibble = element j, high nibble = element j+16.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// Q4_1: y = nibble * d + m. Nibble layout as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// Q5_0: y = (q - 16) * d, q = nibble | bit << 4. qh read as a little-endian u32 h: bit j of h is
// the fifth bit of element j (j = 0..31). Nibble layout as Q4_0.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q5_1: y = q * d + m, bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q8_0: y = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// Q8_1 (activation format for Q4_1/Q5_1 weights): y = qs[j] * d; s = fp16(d * sum(qs)), used
// by dot products to apply the weight block's min.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
};

// IQ4_NL: y = d * kIQ4NLValues[nibble]. Nibble layout as Q4_0.
struct BlockIQ4NL {
  uint16_t d;
  uint8_t qs[16];
};

// Q2_K: 16 sub-blocks of 16. scales[s]: low nibble = scale, high nibble = min of sub-block s.
// 2-bit value of element e (h = e/128, r = e%128): (qs[32h + r%32] >> 2*(r/32)) & 3.
// y = (d*sc) * q - dmin*m.
struct BlockQ2K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K: low 2 bits addressed as Q2_K; high bit of element e = bit e/32 of hmask[e%32]; q =
// low2 - (highbit ? 0 : 4) in -4..3. 16 six-bit scales packed in scales[12] (see
// q3k_scale). y = (d * (scale - 32)) * q.
struct BlockQ3K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K: 8 sub-blocks of 32 with 6-bit scale/min packed in scales[12] (get_scale_min_k4).
// Element e: j = e/32, c = e/64, l = e%32: nibble of qs[32c + l], low for even j, high for odd.
// y = (d*sc[j]) * q - dmin*mn[j].
struct BlockQ4K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// Q5_K: low 4 bits as Q4_K; fifth bit of element e = bit e/32 of qh[e%32]; q in 0..31.
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// Q6_K: element e (h = e/128, r = e%128, l = r%32, g = r/32): low 4 bits in
// ql[64h + l + 32*(g&1)] (low nibble for g < 2, high for g >= 2), high 2 bits
// (qh[32h + l] >> 2g) & 3; q = value - 32 in -32..31; y = (d * scales[e/16]) * q.
struct BlockQ6K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// Q8_K (activation format for K-quants): d is f32, not f16. y = d * qs[e];
// bsums[k] = sum of qs[16k .. 16k+15].
struct BlockQ8K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// IQ4_XS: 8 sub-blocks of 32, 6-bit scale ls (iq4xs_scale), dl = d * (ls - 32);
// qs[16*ib + j]: low nibble = element 32ib + j, high nibble = 32ib + 16 + j;
// y = dl * kIQ4NLValues[nibble].
struct BlockIQ4XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

static_assert(sizeof(BlockQ4_0) == 18 && std::is_standard_layout_v<BlockQ4_0>);
static_assert(sizeof(BlockQ4_1) == 20 && std::is_standard_layout_v<BlockQ4_1>);
static_assert(sizeof(BlockQ5_0) == 22 && std::is_standard_layout_v<BlockQ5_0>);
static_assert(sizeof(BlockQ5_1) == 24 && std::is_standard_layout_v<BlockQ5_1>);
static_assert(sizeof(BlockQ8_0) == 34 && std::is_standard_layout_v<BlockQ8_0>);
static_assert(sizeof(BlockQ8_1) == 36 && std::is_standard_layout_v<BlockQ8_1>);
static_assert(sizeof(BlockIQ4NL) == 18 && std::is_standard_layout_v<BlockIQ4NL>);
static_assert(sizeof(BlockQ2K) == 84 && std::is_standard_layout_v<BlockQ2K>);
static_assert(sizeof(BlockQ3K) == 110 && std::is_standard_layout_v<BlockQ3K>);
static_assert(sizeof(BlockQ4K) == 144 && std::is_standard_layout_v<BlockQ4K>);
static_assert(sizeof(BlockQ5K) == 176 && std::is_standard_layout_v<BlockQ5K>);
static_assert(sizeof(BlockQ6K) == 210 && std::is_standard_layout_v<BlockQ6K>);
static_assert(sizeof(BlockQ8K) == 292 && std::is_standard_layout_v<BlockQ8K>);
static_assert(sizeof(BlockIQ4XS) == 136 && std::is_standard_layout_v<BlockIQ4XS>);
static_assert(offsetof(BlockQ2K, d) == 80 && offsetof(BlockQ3K, d) == 108 &&
              offsetof(BlockQ6K, d) == 208 && offsetof(BlockQ8K, bsums) == 260 &&
              offsetof(BlockQ5K, qs) == 48 && offsetof(BlockIQ4XS, qs) == 8);

// The 16 non-uniform levels of IQ4_NL and IQ4_XS, indexed by nibble (spec §2.3).
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Q4_K / Q5_K: 6-bit scale `sc` and min `mn` of sub-block j (0..7) from the 12-byte packing of
// spec §2.4.
inline void get_scale_min_k4(int j, const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
    *mn = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q3_K: signed scale (-32..31) of sub-block s (0..15) from the 12-byte packing of spec §2.4.
inline int q3k_scale(const uint8_t* scales, int s) {
  const int low = s < 8 ? (scales[s] & 15) : (scales[s - 8] >> 4);
  const int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// IQ4_XS: unsigned 6-bit scale ls (0..63) of sub-block ib (0..7); the multiplier is ls - 32.
inline int iq4xs_scale(const BlockIQ4XS& b, int ib) {
  return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((b.scales_h >> (2 * ib)) & 3) << 4);
}

}  // namespace whale
