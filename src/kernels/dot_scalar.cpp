// Scalar dot products of one weight row with nt activation rows, one function per weight type.
// They follow spec gguf-and-quants.md §4.2 literally: integer sums inside a block, then the
// block's f32 scaling exactly in the order the spec writes it, accumulated block by block in
// increasing order. These are the reference twins of dot_*_avx2.cpp.
#include <cstring>

#include "kernels/scalar_kernels.h"
#include "tensor/float_convert.h"
#include "tensor/quant_blocks.h"

namespace whale::kernels::scalar {
namespace {

inline float f16(uint16_t h) { return fp16_to_f32(h); }

template <class A>
const A* act_row(const void* act, size_t stride, int t) {
  return reinterpret_cast<const A*>(static_cast<const uint8_t*>(act) + stride * t);
}

// Runs `row_dot(activation row) -> float` for each of the nt activation rows.
template <class A, class F>
void for_tokens(const void* act, size_t act_stride, int nt, float* out, size_t out_stride,
                F&& row_dot) {
  for (int t = 0; t < nt; ++t) out[t * out_stride] = row_dot(act_row<A>(act, act_stride, t));
}

// The 32 nibbles of a Q4_0-style qs[16] in element order.
inline void unpack_nibbles32(const uint8_t* qs, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 15;
    q[j + 16] = qs[j] >> 4;
  }
}

// Fifth bits of Q5_0/Q5_1 (qh read as little-endian u32).
inline uint32_t load_qh(const uint8_t* qh) {
  return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}

}  // namespace

// ---- float weights: f32 activations, f32 products summed in f32 in index order ----

void dot_f32w(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const float* wr = static_cast<const float*>(w);
  for_tokens<float>(act, act_stride, nt, out, out_stride, [&](const float* x) {
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += wr[k] * x[k];
    return s;
  });
}

void dot_f16(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
             size_t out_stride) {
  const uint16_t* wr = static_cast<const uint16_t*>(w);
  for_tokens<float>(act, act_stride, nt, out, out_stride, [&](const float* x) {
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += fp16_to_f32(wr[k]) * x[k];
    return s;
  });
}

void dot_bf16(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const uint16_t* wr = static_cast<const uint16_t*>(w);
  for_tokens<float>(act, act_stride, nt, out, out_stride, [&](const float* x) {
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += bf16_to_f32(wr[k]) * x[k];
    return s;
  });
}

// ---- 32-element blocks against Q8_0 / Q8_1 ----
// One loop for all six types: a type gives its 32 integer levels (already offset: q - 8 for
// Q4_0, unsigned for the types with a min) and how a block's integer sum enters the f32
// accumulator, in exactly the operation order spec §4.2 writes for it.
namespace {

template <class T>
void dot_block32(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
                 size_t out_stride) {
  const auto* x = static_cast<const typename T::Block*>(w);
  const int64_t nb = n / kQK;
  for_tokens<typename T::Act>(act, act_stride, nt, out, out_stride, [&](const typename T::Act* a) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int q[32];
      T::levels(x[b], q);
      int32_t isum = 0;
      for (int j = 0; j < 32; ++j) isum += q[j] * a[b].qs[j];
      acc += T::contribution(isum, x[b], a[b]);
    }
    return acc;
  });
}

// The fifth bit of Q5_0 / Q5_1 level j.
inline void add_high_bits(const uint8_t* qh, int* q) {
  const uint32_t h = load_qh(qh);
  for (int j = 0; j < 32; ++j) q[j] |= static_cast<int>((h >> j) & 1) << 4;
}

struct Q4_0T {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static void levels(const Block& x, int* q) {
    unpack_nibbles32(x.qs, q);
    for (int j = 0; j < 32; ++j) q[j] -= 8;
  }
  static float contribution(int32_t isum, const Block& x, const Act& a) {
    return (static_cast<float>(isum) * f16(x.d)) * f16(a.d);
  }
};
struct Q5_0T {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static void levels(const Block& x, int* q) {
    unpack_nibbles32(x.qs, q);
    add_high_bits(x.qh, q);
    for (int j = 0; j < 32; ++j) q[j] -= 16;
  }
  static float contribution(int32_t isum, const Block& x, const Act& a) {
    return (f16(x.d) * f16(a.d)) * static_cast<float>(isum);
  }
};
struct Q8_0T {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static void levels(const Block& x, int* q) {
    for (int j = 0; j < 32; ++j) q[j] = x.qs[j];
  }
  static float contribution(int32_t isum, const Block& x, const Act& a) {
    return static_cast<float>(isum) * (f16(x.d) * f16(a.d));
  }
};
struct IQ4NLT {
  using Block = BlockIQ4NL;
  using Act = BlockQ8_0;
  static void levels(const Block& x, int* q) {
    unpack_nibbles32(x.qs, q);
    for (int j = 0; j < 32; ++j) q[j] = kIQ4NLValues[q[j]];
  }
  static float contribution(int32_t isum, const Block& x, const Act& a) {
    return (f16(x.d) * f16(a.d)) * static_cast<float>(isum);
  }
};
// Types with a min: unsigned levels; the a.s term (a.d * sum of a.qs) applies x.m.
template <class B, bool kFifthBit>
struct WithMinT {
  using Block = B;
  using Act = BlockQ8_1;
  static void levels(const Block& x, int* q) {
    unpack_nibbles32(x.qs, q);
    if constexpr (kFifthBit) add_high_bits(x.qh, q);
  }
  static float contribution(int32_t isum, const Block& x, const Act& a) {
    return (f16(x.d) * f16(a.d)) * static_cast<float>(isum) + f16(x.m) * f16(a.s);
  }
};
using Q4_1T = WithMinT<BlockQ4_1, false>;
using Q5_1T = WithMinT<BlockQ5_1, true>;

}  // namespace

#define WHALE_SCALAR_BLOCK32_DOT(name, T)                                                          \
  void name(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,     \
            size_t out_stride) {                                                                  \
    dot_block32<T>(n, w, act, act_stride, nt, out, out_stride);                                   \
  }
WHALE_SCALAR_BLOCK32_DOT(dot_q4_0, Q4_0T)
WHALE_SCALAR_BLOCK32_DOT(dot_q5_0, Q5_0T)
WHALE_SCALAR_BLOCK32_DOT(dot_q8_0, Q8_0T)
WHALE_SCALAR_BLOCK32_DOT(dot_iq4_nl, IQ4NLT)
WHALE_SCALAR_BLOCK32_DOT(dot_q4_1, Q4_1T)
WHALE_SCALAR_BLOCK32_DOT(dot_q5_1, Q5_1T)
#undef WHALE_SCALAR_BLOCK32_DOT

// ---- 256-element super-blocks against Q8_K ----
// Each decodes the weight block to integer levels q[256] first (addressing of spec §2.4),
// then forms isum = Σ_sub scale_sub * Σ q*a and, for the types with mins,
// msum = Σ_k bsums[k] * min(k). Contribution D*isum − M*msum, D = f32(d)*a.d, M = f32(dmin)*a.d.

void dot_q2_k(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ2K*>(w);
  const int64_t nb = n / kQKK;
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride, [&](const BlockQ8K* a) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t isum = 0, msum = 0;
      for (int s = 0; s < 16; ++s) {
        int32_t sub = 0;
        for (int i = 0; i < 16; ++i) {
          const int e = 16 * s + i, h = e / 128, r = e % 128;
          const int q = (x[b].qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
          sub += q * a[b].qs[e];
        }
        isum += (x[b].scales[s] & 15) * sub;
        msum += (x[b].scales[s] >> 4) * a[b].bsums[s];
      }
      const float D = f16(x[b].d) * a[b].d, M = f16(x[b].dmin) * a[b].d;
      acc += D * static_cast<float>(isum) - M * static_cast<float>(msum);
    }
    return acc;
  });
}

void dot_q3_k(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ3K*>(w);
  const int64_t nb = n / kQKK;
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride, [&](const BlockQ8K* a) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t isum = 0;
      for (int s = 0; s < 16; ++s) {
        int32_t sub = 0;
        for (int i = 0; i < 16; ++i) {
          const int e = 16 * s + i, h = e / 128, r = e % 128;
          const int low = (x[b].qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
          const int high = (x[b].hmask[e % 32] >> (e / 32)) & 1;
          sub += (low - (high ? 0 : 4)) * a[b].qs[e];
        }
        isum += q3k_scale(x[b].scales, s) * sub;
      }
      acc += (f16(x[b].d) * a[b].d) * static_cast<float>(isum);
    }
    return acc;
  });
}

namespace {
// Q4_K and Q5_K share everything but the fifth bit.
template <bool kFive, class B>
float dot_q45_k_row(const B* x, const BlockQ8K* a, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qs;
    if constexpr (kFive) qs = reinterpret_cast<const BlockQ5K*>(&x[b])->qs;
    else qs = reinterpret_cast<const BlockQ4K*>(&x[b])->qs;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, mn;
      get_scale_min_k4(j, x[b].scales, &sc, &mn);
      int32_t sub = 0;
      for (int l = 0; l < 32; ++l) {
        const int e = 32 * j + l;
        int q = (j % 2 == 0) ? (qs[32 * (j / 2) + l] & 15) : (qs[32 * (j / 2) + l] >> 4);
        if constexpr (kFive) q += 16 * ((reinterpret_cast<const BlockQ5K*>(&x[b])->qh[l] >> j) & 1);
        sub += q * a[b].qs[e];
      }
      isum += sc * sub;
      msum += mn * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    }
    const float D = f16(x[b].d) * a[b].d, M = f16(x[b].dmin) * a[b].d;
    acc += D * static_cast<float>(isum) - M * static_cast<float>(msum);
  }
  return acc;
}
}  // namespace

void dot_q4_k(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ4K*>(w);
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride,
                       [&](const BlockQ8K* a) { return dot_q45_k_row<false>(x, a, n / kQKK); });
}

void dot_q5_k(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ5K*>(w);
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride,
                       [&](const BlockQ8K* a) { return dot_q45_k_row<true>(x, a, n / kQKK); });
}

void dot_q6_k(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out,
              size_t out_stride) {
  const auto* x = static_cast<const BlockQ6K*>(w);
  const int64_t nb = n / kQKK;
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride, [&](const BlockQ8K* a) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t isum = 0;
      for (int s = 0; s < 16; ++s) {
        int32_t sub = 0;
        for (int i = 0; i < 16; ++i) {
          const int e = 16 * s + i, h = e / 128, r = e % 128, l = r % 32, g = r / 32;
          const uint8_t lb = x[b].ql[64 * h + l + 32 * (g & 1)];
          const int low = g < 2 ? (lb & 15) : (lb >> 4);
          const int high = (x[b].qh[32 * h + l] >> (2 * g)) & 3;
          sub += ((low | high << 4) - 32) * a[b].qs[e];
        }
        isum += x[b].scales[s] * sub;
      }
      acc += (f16(x[b].d) * a[b].d) * static_cast<float>(isum);
    }
    return acc;
  });
}

// IQ4_XS: the sub-block multipliers (ls − 32) are integers, so they are folded into the integer
// sum (exact, |isum| < 2^28) and the super-block is scaled once: D * isum.
void dot_iq4_xs(int64_t n, const void* w, const void* act, size_t act_stride, int nt,
                float* out, size_t out_stride) {
  const auto* x = static_cast<const BlockIQ4XS*>(w);
  const int64_t nb = n / kQKK;
  for_tokens<BlockQ8K>(act, act_stride, nt, out, out_stride, [&](const BlockQ8K* a) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t isum = 0;
      for (int ib = 0; ib < 8; ++ib) {
        int q[32];
        unpack_nibbles32(x[b].qs + 16 * ib, q);
        int32_t sub = 0;
        for (int j = 0; j < 32; ++j) sub += kIQ4NLValues[q[j]] * a[b].qs[32 * ib + j];
        isum += (iq4xs_scale(x[b], ib) - 32) * sub;
      }
      acc += (f16(x[b].d) * a[b].d) * static_cast<float>(isum);
    }
    return acc;
  });
}

}  // namespace whale::kernels::scalar
