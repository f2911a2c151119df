// Reference quantisers of IQ4_NL and IQ4_XS without an importance matrix (spec
// gguf-and-quants.md §3.8): per 32-element sub-block, a scale search over the non-uniform
// level table kIQ4NLValues; IQ4_XS then expresses the sub-block scales as 6-bit multiples of
// one f16 super-block scale.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/float_convert.h"
#include "tensor/quant_rounding.h"
#include "tensor/quant_rows.h"

namespace whale {
namespace {

constexpr int kNtry = 7;

// Index of the table level nearest to v; an exact midpoint goes to the upper level. Between
// the ends, hi = number of levels <= v is the upper neighbour (the reference finds it by
// binary search; counting gives the same index without unpredictable branches).
int best_level(float v) {
  static constexpr float K[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};
  if (v <= K[0]) return 0;
  if (v >= K[15]) return 15;
  int hi = 0;
  for (int i = 0; i < 16; ++i) hi += K[i] <= v;
  // Only NaN (from 0 * inf in a block with a subnormal scale) counts no level; the
  // reference's binary search then ends at the top level.
  if (hi == 0) return 15;
  return v - K[hi - 1] < K[hi] - v ? hi - 1 : hi;
}

// Scale search of §3.8 steps 1-3 for one sub-block of 32 with weights x²; returns the scale
// (0 for an all-zero sub-block).
float search_scale(const float* xb) {
  float w[32];
  for (int j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(xb[j]) > amax) {
      amax = std::fabs(xb[j]);
      max = xb[j];
    }
  }
  if (amax < 1e-15f) return 0.0f;
  const float k0 = static_cast<float>(kIQ4NLValues[0]);
  auto sums = [&](float id, float* sumqx, float* sumq2) {
    *sumqx = 0.0f;
    *sumq2 = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float q = static_cast<float>(kIQ4NLValues[best_level(id * xb[j])]);
      *sumqx += (w[j] * q) * xb[j];
      *sumq2 += (w[j] * q) * q;
    }
  };
  float d = -max / k0;
  float sumqx, sumq2;
  sums(1.0f / d, &sumqx, &sumq2);
  d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int t = -kNtry; t <= kNtry; ++t) {
    const float id = static_cast<float>(t + kIQ4NLValues[0]) / max;
    sums(id, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Packs 32 levels of one sub-block: low nibble element j, high nibble element j+16.
void pack_nibbles(const float* xb, float id, uint8_t* qs) {
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>(best_level(id * xb[j]) | (best_level(id * xb[j + 16]) << 4));
}

}  // namespace

void quantize_row_iq4_nl(const float* x, BlockIQ4NL* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = search_scale(x);
    y[b].d = f32_to_fp16(d);
    pack_nibbles(x, d != 0.0f ? 1.0f / d : 0.0f, y[b].qs);
  }
}

void quantize_row_iq4_xs(const float* x, BlockIQ4XS* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockIQ4XS& blk = y[b];
    float scales[8];
    float max_scale = 0.0f, amax_scale = 0.0f;
    for (int ib = 0; ib < 8; ++ib) {
      scales[ib] = search_scale(x + 32 * ib);
      if (std::fabs(scales[ib]) > amax_scale) {
        amax_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    const float D = -max_scale / 32.0f;
    blk.d = f32_to_fp16(D);
    const float id = D != 0.0f ? 1.0f / D : 0.0f;
    blk.scales_h = 0;
    std::memset(blk.scales_l, 0, sizeof blk.scales_l);
    for (int ib = 0; ib < 8; ++ib) {
      const int l = std::clamp(rne(id * scales[ib]), -32, 31);
      const float dl = D * static_cast<float>(l);
      pack_nibbles(x + 32 * ib, dl != 0.0f ? 1.0f / dl : 0.0f, blk.qs + 16 * ib);
      const int ls = l + 32;
      blk.scales_l[ib / 2] |= static_cast<uint8_t>((ls & 15) << (4 * (ib % 2)));
      blk.scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * ib));
    }
  }
}

}  // namespace whale
