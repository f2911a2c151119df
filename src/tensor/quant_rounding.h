// Rounding helpers of the reference quantisers (spec gguf-and-quants.md §0). They are written
// the way the reference computes them, not with library calls, because the quantised bytes must
// match llama.cpp exactly, including for arguments where the shortcuts differ.
#pragma once
#include <cstdint>
#include <cstring>

namespace whale {

// rne(v): nearest integer, ties to even, via the 1.5*2^23 trick: adding it leaves the rounded
// value in the low mantissa bits. Valid for |v| < 2^22 (all uses stay far inside).
inline int rne(float v) {
  const float biased = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, 4);
  return (bits & 0x7FFFFF) - 0x400000;
}

// trunc_i8 / trunc_u8: C's float -> int8 / uint8 conversion as the reference is compiled on
// x86-64 (cvttss2si to int32, then the low byte). In range this is plain truncation toward
// zero, which is all that well-formed blocks ever need. Degenerate blocks (e.g. a subnormal
// scale whose reciprocal overflows to inf) produce out-of-range or NaN arguments, undefined
// behaviour in C++; there we return what the x86 instruction gives (low byte of 0x80000000).
inline int32_t trunc_i32_x86(float v) {
  if (v >= -2147483648.0f && v < 2147483648.0f) return static_cast<int32_t>(v);
  return INT32_MIN;
}
inline int8_t trunc_i8(float v) { return static_cast<int8_t>(trunc_i32_x86(v)); }
inline uint8_t trunc_u8(float v) { return static_cast<uint8_t>(trunc_i32_x86(v)); }

}  // namespace whale
