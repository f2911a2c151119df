// Decoders of spec gguf-and-quants.md §2. Each formula keeps the reference's operation order
// (e.g. Q4_K computes d*sc and dmin*mn first, then d1*q - m1) because the fixtures compare the
// decoded f32 values bit for bit; the project builds with -ffp-contract=off so nothing fuses.
#include <cstring>

#include "tensor/float_convert.h"
#include "tensor/quant_rows.h"

namespace whale {
namespace {

// Little-endian u32 from 4 bytes (the qh field of Q5_0/Q5_1 is not 4-byte aligned).
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

void dequantize_row_f16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

void dequantize_row_f8_e4m3(const uint8_t* x, float* y, int64_t n) {
  // Every byte decodes exactly; a table saves the branches on the hot import path.
  static const auto table = [] {
    struct Table {
      float v[256];
    } t{};
    for (int b = 0; b < 256; ++b) t.v[b] = fp8_e4m3_to_f32(static_cast<uint8_t>(b));
    return t;
  }();
  for (int64_t i = 0; i < n; ++i) y[i] = table.v[x[i]];
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((x[b].qs[j] & 15) - 8) * d;
      y[j + 16] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    const float m = fp16_to_f32(x[b].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(x[b].qs[j] & 15) * d + m;
      y[j + 16] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    const uint32_t h = load_u32(x[b].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[b].qs[j] & 15) | static_cast<int>(((h >> j) & 1) << 4);
      const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    const float m = fp16_to_f32(x[b].m);
    const uint32_t h = load_u32(x[b].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[b].qs[j] & 15) | static_cast<int>(((h >> j) & 1) << 4);
      const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_row_iq4_nl(const BlockIQ4NL* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[x[b].qs[j] & 15]);
      y[j + 16] = d * static_cast<float>(kIQ4NLValues[x[b].qs[j] >> 4]);
    }
  }
}

void dequantize_row_q2_k(const BlockQ2K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockQ2K& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    const float dmin = fp16_to_f32(blk.dmin);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * static_cast<float>(blk.scales[s] & 15);
      const float ml = dmin * static_cast<float>(blk.scales[s] >> 4);
      for (int k = 0; k < 16; ++k) {
        const int e = 16 * s + k, h = e / 128, r = e % 128;
        const int q = (blk.qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        y[e] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

void dequantize_row_q3_k(const BlockQ3K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockQ3K& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * static_cast<float>(q3k_scale(blk.scales, s));
      for (int k = 0; k < 16; ++k) {
        const int e = 16 * s + k, h = e / 128, r = e % 128;
        const int low = (blk.qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        const int high = (blk.hmask[e % 32] >> (e / 32)) & 1;
        y[e] = dl * static_cast<float>(low - (high ? 0 : 4));
      }
    }
  }
}

void dequantize_row_q4_k(const BlockQ4K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockQ4K& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    const float dmin = fp16_to_f32(blk.dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, mn;
      get_scale_min_k4(j, blk.scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      const uint8_t* q = blk.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l)
        y[32 * j + l] = d1 * static_cast<float>((q[l] >> shift) & 15) - m1;
    }
  }
}

void dequantize_row_q5_k(const BlockQ5K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockQ5K& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    const float dmin = fp16_to_f32(blk.dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, mn;
      get_scale_min_k4(j, blk.scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      const uint8_t* q = blk.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 15) + (((blk.qh[l] >> j) & 1) ? 16 : 0);
        y[32 * j + l] = d1 * static_cast<float>(v) - m1;
      }
    }
  }
}

void dequantize_row_q6_k(const BlockQ6K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockQ6K& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    float ds[16];  // d * scale, rounded once as in the reference's (d * sc) * q
    for (int s = 0; s < 16; ++s) ds[s] = d * static_cast<float>(blk.scales[s]);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk.ql + 64 * h;
      const uint8_t* qh = blk.qh + 32 * h;
      float* yh = y + 128 * h;
      const float* dh = ds + 8 * h;
      for (int l = 0; l < 32; ++l) {
        // Groups g = 0..3 of this half: element 32g + l.
        const int q0 = ((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        const int s = l / 16;
        yh[l] = dh[s] * static_cast<float>(q0);
        yh[l + 32] = dh[s + 2] * static_cast<float>(q1);
        yh[l + 64] = dh[s + 4] * static_cast<float>(q2);
        yh[l + 96] = dh[s + 6] * static_cast<float>(q3);
      }
    }
  }
}

void dequantize_row_q8_k(const BlockQ8K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    float d;
    std::memcpy(&d, &x[b].d, 4);  // Q8_K blocks are 292 bytes: d may sit unaligned in a row
    for (int e = 0; e < kQKK; ++e) y[e] = d * static_cast<float>(x[b].qs[e]);
  }
}

void dequantize_row_iq4_xs(const BlockIQ4XS* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const BlockIQ4XS& blk = x[b];
    const float d = fp16_to_f32(blk.d);
    for (int ib = 0; ib < 8; ++ib) {
      const float dl = d * static_cast<float>(iq4xs_scale(blk, ib) - 32);
      const uint8_t* q = blk.qs + 16 * ib;
      float* yb = y + 32 * ib;
      for (int j = 0; j < 16; ++j) {
        yb[j] = dl * static_cast<float>(kIQ4NLValues[q[j] & 15]);
        yb[j + 16] = dl * static_cast<float>(kIQ4NLValues[q[j] >> 4]);
      }
    }
  }
}

}  // namespace whale
