// Reference quantisers of the plain and 32-element formats and of Q8_K (spec
// gguf-and-quants.md §3.1, §3.2, §3.7, §5). Each expression keeps the reference's operation
// order and rounding helper: roundf (ties away) for Q8_0/Q8_1, truncation after +0.5/+8.5/+16.5
// for Q4_x/Q5_x, rne for Q8_K. The resulting bytes are compared against llama.cpp's output.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "tensor/float_convert.h"
#include "tensor/quant_rounding.h"
#include "tensor/quant_rows.h"

namespace whale {
namespace {

// Signed value of largest magnitude; the first one wins ties (strict comparison).
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace

void quantize_row_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void quantize_row_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float max = signed_absmax(x, kQK);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      // The sums lie in [0.5, 16.5]; the int8 conversion truncates toward zero.
      const int qa = std::min(15, static_cast<int>(trunc_i8(x[j] * id + 8.5f)));
      const int qb = std::min(15, static_cast<int>(trunc_i8(x[j + 16] * id + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(qa | (qb << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    y[b].m = f32_to_fp16(min);
    for (int j = 0; j < 16; ++j) {
      const int qa = std::min(15, static_cast<int>(trunc_i8((x[j] - min) * id + 0.5f)));
      const int qb =
          std::min(15, static_cast<int>(trunc_i8((x[j + 16] - min) * id + 0.5f)));
      y[b].qs[j] = static_cast<uint8_t>(qa | (qb << 4));
    }
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float max = signed_absmax(x, kQK);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int qa = std::min(31, static_cast<int>(trunc_i8(x[j] * id + 16.5f)));
      const int qb = std::min(31, static_cast<int>(trunc_i8(x[j + 16] * id + 16.5f)));
      y[b].qs[j] = static_cast<uint8_t>((qa & 15) | ((qb & 15) << 4));
      qh |= static_cast<uint32_t>((qa >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((qb >> 4) & 1) << (j + 16);
    }
    store_u32(y[b].qh, qh);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    y[b].m = f32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      // No clamp in the reference: the u8 conversion of a value in [0.5, 31.5] truncates.
      const int qa = trunc_u8((x[j] - min) * id + 0.5f);
      const int qb = trunc_u8((x[j + 16] - min) * id + 0.5f);
      y[b].qs[j] = static_cast<uint8_t>((qa & 15) | ((qb & 15) << 4));
      qh |= static_cast<uint32_t>((qa >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((qb >> 4) & 1) << (j + 16);
    }
    store_u32(y[b].qh, qh);
  }
}

namespace {

// Shared by Q8_0 and Q8_1: returns the unrounded d and fills qs (spec §3.1).
inline float quantize_q8_block(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j) qs[j] = trunc_i8(std::roundf(x[j] * id));
  return d;
}

}  // namespace

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK)
    y[b].d = f32_to_fp16(quantize_q8_block(x, y[b].qs));
}

void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = quantize_q8_block(x, y[b].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += y[b].qs[j];
    y[b].d = f32_to_fp16(d);
    y[b].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

void quantize_row_q8_k(const float* x, BlockQ8K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockQ8K& blk = y[b];
    const float max = signed_absmax(x, kQKK);
    if (max == 0.0f) {
      // The reference leaves bsums unwritten here; zero is what they would sum to.
      std::memset(&blk, 0, sizeof blk);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQKK; ++j)
      blk.qs[j] = static_cast<int8_t>(std::min(127, rne(iscale * x[j])));
    for (int k = 0; k < 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += blk.qs[16 * k + j];
      blk.bsums[k] = static_cast<int16_t>(sum);
    }
    const float d = 1.0f / iscale;
    std::memcpy(&blk.d, &d, 4);
  }
}

}  // namespace whale
