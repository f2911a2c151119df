// Exact scalar conversions between f32 and f16, bf16, FP8 E4M3 (spec gguf-and-quants.md §5).
// These are the reference conversions; SIMD kernels may use hardware converters that agree
// on every finite value.
#pragma once
#include <cstdint>
#include <cstring>

namespace whale {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// f16 -> f32, exact (subnormals, inf and NaN included).
inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t man = h & 0x3FF;
  if (exp == 0) {
    // zero or subnormal: man * 2^-24, exact in f32
    float v = static_cast<float>(man) * 5.9604644775390625e-08f;
    return f32_from_bits(f32_bits(v) | sign);
  }
  if (exp == 31) return f32_from_bits(sign | 0x7F800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

// f32 -> f16 with round-to-nearest-even, gradual underflow, overflow to inf, NaN -> quiet.
inline uint16_t f32_to_fp16(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;        // NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;       // >= 65520 rounds to inf (also inf)
  if (abs < 0x38800000) {                            // below 2^-14: subnormal or zero
    if (abs < 0x33000000) return sign;               // below 2^-25 (and exactly 2^-25 ties to 0)
    const uint32_t exp = abs >> 23;
    const uint32_t man = (abs & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - exp;                // 14 + (113 - exp) ... value = man >> shift
    uint32_t q = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  // normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even
  uint32_t v = abs - (112u << 23);
  const uint32_t rem = v & 0x1FFF;
  v >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (v & 1))) ++v;  // may carry into exponent: correct
  return static_cast<uint16_t>(sign | v);
}

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((u >> 16) | 0x0040);
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

// FP8 E4M3 ("e4m3fn": bias 7, no infinities, 0x7F/0xFF are NaN) -> f32, exact.
inline float fp8_e4m3_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80) << 24;
  const uint32_t exp = (b >> 3) & 0xF;
  const uint32_t man = b & 0x7;
  if (exp == 15 && man == 7) return f32_from_bits(sign | 0x7FC00000u);
  if (exp == 0) {
    float v = static_cast<float>(man) * 0.001953125f;  // man * 2^-9
    return f32_from_bits(f32_bits(v) | sign);
  }
  return f32_from_bits(sign | ((exp + 120) << 23) | (man << 20));
}

}  // namespace whale
