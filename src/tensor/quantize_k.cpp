// Reference quantisers of the K-quants (spec gguf-and-quants.md §3.3-§3.6): per sub-block scale
// searches, then 6-bit (Q4_K/Q5_K), 4-bit (Q2_K), 6-bit signed (Q3_K) or 8-bit (Q6_K) scales
// relative to one f16 super-block scale, then a re-quantisation against the *stored* scales.
// The searches compare nearly equal errors, so every product and sum keeps the reference's
// order (written out with explicit parentheses) and nothing may be fused or reassociated.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/float_convert.h"
#include "tensor/quant_rounding.h"
#include "tensor/quant_rows.h"

namespace whale {
namespace {

inline int clampi(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// Parameters of the asymmetric search of §3.3.
struct QkxParams {
  int nmax;
  float rmin;
  float rdelta;
  int nstep;
  bool mad;  // weight |error| (Q2_K) instead of error² (Q4_K, Q5_K)
};

// make_qkx2_quants (§3.3): fits x ≈ scale*L - the_min with L in 0..nmax; returns scale.
float make_qkx2_quants(int n, const QkxParams& p, const float* x, const float* w, uint8_t* L,
                       float* the_min) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.0f;
  }
  const float nmax_f = static_cast<float>(p.nmax);
  float iscale = nmax_f / (max - min);
  float scale = 1.0f / iscale;
  float best_error = 0.0f;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(clampi(rne(iscale * (x[i] - min)), 0, p.nmax));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = p.mad ? std::fabs(diff) : diff * diff;
    best_error += w[i] * diff;
  }
  if (p.nstep < 1) {
    *the_min = -min;
    return scale;
  }
  uint8_t La[32];
  for (int is = 0; is <= p.nstep; ++is) {
    iscale = ((p.rmin + p.rdelta * static_cast<float>(is)) + nmax_f) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(rne(iscale * (x[i] - min)), 0, p.nmax);
      La[i] = static_cast<uint8_t>(l);
      const float lf = static_cast<float>(l);
      sum_l += w[i] * lf;
      sum_l2 += (w[i] * lf) * lf;
      sum_xl += (w[i] * lf) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0.0f;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(La[i]) + this_min - x[i];
        diff = p.mad ? std::fabs(diff) : diff * diff;
        cur_error += w[i] * diff;
      }
      if (cur_error < best_error) {
        std::copy(La, La + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// make_qx_quants with rmse_type 1 and no importance weights (§3.6); L gets levels + nmax.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0.0f, amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-15f) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  // Sums of w*x*l and w*l*l with w = x², for levels from a given inverse scale.
  auto sums = [&](float iscale, float* sumlx, float* suml2, bool store) {
    *sumlx = 0.0f;
    *suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clampi(rne(iscale * x[i]), -nmax, nmax - 1);
      if (store) L[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      const float lf = static_cast<float>(l);
      *sumlx += (w * x[i]) * lf;
      *suml2 += (w * lf) * lf;
    }
  };
  float sumlx, suml2;
  sums(static_cast<float>(-nmax) / max, &sumlx, &suml2, true);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sums(iscale, &sumlx, &suml2, false);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      sums(iscale, &sumlx, &suml2, true);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// make_q3_quants (§3.5): symmetric levels in -nmax..nmax-1 refined coordinate by coordinate;
// L gets levels + nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0.0f, amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-15f) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clampi(rne(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += (w * x[i]) * static_cast<float>(l);
    suml2 += (w * static_cast<float>(l)) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - (w * x[i]) * li;
      if (slx > 0) {
        float sl2 = suml2 - (w * li) * li;
        const int nl = clampi(rne((x[i] * sl2) / slx), -nmax, nmax - 1);
        if (nl != L[i]) {
          const float nlf = static_cast<float>(nl);
          slx += (w * x[i]) * nlf;
          sl2 += (w * nlf) * nlf;
          if (sl2 > 0 && (slx * slx) * suml2 > (sumlx * sumlx) * sl2) {
            L[i] = static_cast<int8_t>(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

// Packs 6-bit scale/min pairs into the 12-byte layout of §2.4 (inverse of get_scale_min_k4).
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 15) | ((lm[j] & 15) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Q4_K and Q5_K share everything up to the final packing: fills d, dmin, scales and the levels
// L[256] (0..nmax) of one super-block (§3.4 steps 1-5).
template <class Block>
void quantize_k4_levels(const float* x, const QkxParams& p, Block& y, uint8_t* L) {
  float scales[8], mins[8], w[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, p, xs, w, L + 32 * j, &mins[j]);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // The reference stores the int in a u8 before clamping: keep that truncation.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(rne(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(rne(inv_min * mins[j])));
  }
  pack_scale_min_k4(ls, lm, y.scales);
  y.d = f32_to_fp16(max_scale / 63.0f);
  y.dmin = f32_to_fp16(max_min / 63.0f);
  const float d = fp16_to_f32(y.d), dmin = fp16_to_f32(y.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    get_scale_min_k4(j, y.scales, &sc, &mn);
    const float dj = d * static_cast<float>(sc);
    if (dj == 0.0f) continue;
    const float dm = dmin * static_cast<float>(mn);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(clampi(rne((x[32 * j + i] + dm) / dj), 0, p.nmax));
  }
}

}  // namespace

void quantize_row_q4_k(const float* x, BlockQ4K* y, int64_t n) {
  static constexpr QkxParams kParams{15, -1.0f, 0.1f, 20, false};
  uint8_t L[kQKK];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    quantize_k4_levels(x, kParams, y[b], L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        y[b].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quantize_row_q5_k(const float* x, BlockQ5K* y, int64_t n) {
  static constexpr QkxParams kParams{31, -0.5f, 0.1f, 15, false};
  uint8_t L[kQKK];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    quantize_k4_levels(x, kParams, y[b], L);
    std::memset(y[b].qh, 0, sizeof y[b].qh);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
        if (l1 > 15) y[b].qh[l] |= static_cast<uint8_t>(1 << (2 * c));
        if (l2 > 15) y[b].qh[l] |= static_cast<uint8_t>(1 << (2 * c + 1));
        y[b].qs[32 * c + l] = static_cast<uint8_t>((l1 & 15) | ((l2 & 15) << 4));
      }
    }
  }
}

namespace {

// Q2_K and Q3_K share the 2-bit packing of the low bits (§3.5).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l)
      qs[32 * h + l] =
          static_cast<uint8_t>(L[128 * h + l] | (L[128 * h + l + 32] << 2) |
                               (L[128 * h + l + 64] << 4) | (L[128 * h + l + 96] << 6));
}

}  // namespace

void quantize_row_q2_k(const float* x, BlockQ2K* y, int64_t n) {
  static constexpr QkxParams kParams{3, -0.5f, 0.1f, 15, true};
  uint8_t L[kQKK];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockQ2K& blk = y[b];
    float scales[16], mins[16], w[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, kParams, x + 16 * j, w, L + 16 * j, &mins[j]);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<uint8_t>(rne(iscale * scales[j]));
      blk.d = f32_to_fp16(max_scale / 15.0f);
    } else {
      std::memset(blk.scales, 0, sizeof blk.scales);
      blk.d = f32_to_fp16(0.0f);
    }
    if (max_min > 0) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        blk.scales[j] |= static_cast<uint8_t>(rne(iscale * mins[j]) << 4);
      blk.dmin = f32_to_fp16(max_min / 15.0f);
    } else {
      blk.dmin = f32_to_fp16(0.0f);
    }
    const float d = fp16_to_f32(blk.d), dmin = fp16_to_f32(blk.dmin);
    for (int j = 0; j < 16; ++j) {
      const float dj = d * static_cast<float>(blk.scales[j] & 15);
      if (dj == 0.0f) continue;
      const float dm = dmin * static_cast<float>(blk.scales[j] >> 4);
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<uint8_t>(clampi(rne((x[16 * j + i] + dm) / dj), 0, 3));
    }
    pack_2bit(L, blk.qs);
  }
}

void quantize_row_q3_k(const float* x, BlockQ3K* y, int64_t n) {
  int8_t L[kQKK];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockQ3K& blk = y[b];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(blk.scales, 0, sizeof blk.scales);
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        // The reference narrows to int8 before clamping.
        const int l = clampi(static_cast<int8_t>(rne(iscale * scales[j])), -32, 31) + 32;
        if (j < 8)
          blk.scales[j] = static_cast<uint8_t>(l & 15);
        else
          blk.scales[j - 8] |= static_cast<uint8_t>((l & 15) << 4);
        blk.scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
      }
      blk.d = f32_to_fp16(1.0f / iscale);
    } else {
      blk.d = f32_to_fp16(0.0f);
    }
    const float d = fp16_to_f32(blk.d);
    for (int j = 0; j < 16; ++j) {
      const float dj = d * static_cast<float>(q3k_scale(blk.scales, j));
      if (dj == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clampi(rne(x[16 * j + i] / dj), -4, 3) + 4);
    }
    std::memset(blk.hmask, 0, sizeof blk.hmask);
    uint8_t low[kQKK];
    for (int e = 0; e < kQKK; ++e) {
      int l = L[e];
      if (l > 3) {
        blk.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
        l -= 4;
      }
      low[e] = static_cast<uint8_t>(l);
    }
    pack_2bit(low, blk.qs);
  }
}

void quantize_row_q6_k(const float* x, BlockQ6K* y, int64_t n) {
  int8_t L[kQKK];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    BlockQ6K& blk = y[b];
    float scales[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < 1e-15f) {
      std::memset(&blk, 0, sizeof blk);
      continue;
    }
    const float iscale = -128.0f / max_scale;
    blk.d = f32_to_fp16(1.0f / iscale);
    for (int ib = 0; ib < 16; ++ib)
      blk.scales[ib] = static_cast<int8_t>(std::min(127, rne(iscale * scales[ib])));
    const float d = fp16_to_f32(blk.d);
    for (int j = 0; j < 16; ++j) {
      const float dj = d * static_cast<float>(blk.scales[j]);
      if (dj == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clampi(rne(x[16 * j + i] / dj), -32, 31) + 32);
    }
    for (int h = 0; h < 2; ++h) {
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
        blk.ql[64 * h + l] = static_cast<uint8_t>((q1 & 15) | ((q3 & 15) << 4));
        blk.ql[64 * h + 32 + l] = static_cast<uint8_t>((q2 & 15) | ((q4 & 15) << 4));
        blk.qh[32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                                  ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace whale
