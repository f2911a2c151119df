// matmul against (1) its scalar twin and (2) an independent reference built from the tensor
// layer's dequantize_row and a plain dot product, for every weight type, several shapes
// (rows not a multiple of 8, tokens 1, 3, 17) and thread counts 1-4.
//
// Tolerances, all derived, none fitted to our own output (eps = 2^-23, B = number of blocks in
// a row, S = Σ_blocks max|w_deq| · Σ|a| over the block, a = activation):
//  * scalar vs dequantised-activation reference: the integer sums are exact, so only f32
//    rounding remains (a few roundings per block, then a B-term sum): |Δ| <= 2(B+8)·eps·S.
//    Q4_1/Q5_1 also carry the f16 rounding of the Q8_1 block sum s: + Σ|m|·|s|·2^-9.
//  * scalar vs unquantised activations: the above plus the activation quantisation error,
//    |x − a| <= 0.5·d·(1+1e-5) (+ 127·d·2^-11 where d is stored as f16), d = amax/127 per block,
//    weighted by Σ|w_deq| over the block.
//  * AVX2 / AVX-512 vs scalar: same integer sums, f32 accumulated in 8 or 16 lanes and another
//    order: |Δ| <= 2(8B+16)·eps·S.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <string>

#include "kernel_test_util.h"
#include "tables.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "tensor/quant_blocks.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

using testing::all_weight_types;
using testing::quantized_weights;
using testing::random_byte_weights;
using testing::random_floats;
using testing::Weights;

constexpr float kEps = FLT_EPSILON;

struct Shape {
  int64_t k, rows;
};

// Row lengths that fit the type: multiples of 256 for super-block types, others otherwise
// (and arbitrary lengths for float types, to exercise SIMD tails).
std::vector<Shape> shapes_for(GgmlType t) {
  const int bs = traits(t).block_size;
  if (bs == 1) return {{1, 5}, {37, 7}, {300, 35}, {1024, 16}};
  if (bs == 32) return {{32, 1}, {96, 7}, {544, 35}, {1024, 16}};
  return {{256, 1}, {512, 7}, {768, 35}, {1024, 16}};
}

// Activation rows in the format the weight type uses, and their dequantised values.
struct Acts {
  WeightKernel wk;
  std::vector<uint8_t> q;  // empty for f32 activations
  size_t stride = 0;
  std::vector<float> deq;  // what the kernel multiplies, as floats
};

Acts quantize_acts(GgmlType t, const std::vector<float>& x, int64_t k, int64_t n_tokens) {
  Acts a;
  a.wk = weight_kernel(scalar_table(), t);
  if (!a.wk.quantize) {
    a.deq = x;
    return a;
  }
  a.stride = static_cast<size_t>(k / a.wk.act_block * a.wk.act_block_bytes);
  a.q.resize(a.stride * n_tokens);
  a.deq.resize(x.size());
  const GgmlType at = a.wk.act_block == kQKK ? GgmlType::Q8_K
                      : a.wk.act_block_bytes == sizeof(BlockQ8_1) ? GgmlType::Q8_1
                                                                  : GgmlType::Q8_0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    a.wk.quantize(x.data() + t * k, a.q.data() + t * a.stride, k);
    dequantize_row(at, a.q.data() + t * a.stride, a.deq.data() + t * k, k);
  }
  return a;
}

// Per-output error scale S (see file comment) for row r and token t.
double scale_s(const std::vector<float>& w, const std::vector<float>& a, int64_t k, int64_t r,
               int64_t t, int block) {
  double s = 0;
  for (int64_t b0 = 0; b0 < k; b0 += block) {
    double wmax = 0, asum = 0;
    for (int64_t j = b0; j < b0 + block; ++j) {
      wmax = std::max(wmax, std::fabs(double(w[r * k + j])));
      asum += std::fabs(double(a[t * k + j]));
    }
    s += wmax * asum;
  }
  return s;
}

std::vector<float> run(const KernelTable& table, const Weights& w, const std::vector<float>& x,
                       int64_t n_tokens, int threads) {
  ThreadPool pool(threads);
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows), NAN);
  matmul_with(table, w.view(), x.data(), n_tokens, y.data(), pool);
  return y;
}

void check_against_reference(const Weights& w, int64_t n_tokens, uint32_t seed) {
  const int64_t k = w.k, m = w.rows;
  const auto x = random_floats(static_cast<size_t>(k * n_tokens), seed);
  const auto wd = w.dequantized();
  const Acts a = quantize_acts(w.type, x, k, n_tokens);
  const int block = std::max(1, a.wk.act_block);
  const int64_t nblocks = k / std::max(1, traits(w.type).block_size);
  const auto y = run(scalar_table(), w, x, n_tokens, 1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < m; ++r) {
      double exact_deq = 0, exact_x = 0, quant_err = 0, min_term = 0;
      for (int64_t j = 0; j < k; ++j) {
        exact_deq += double(wd[r * k + j]) * a.deq[t * k + j];
        exact_x += double(wd[r * k + j]) * x[t * k + j];
      }
      if (a.wk.quantize) {
        for (int64_t b0 = 0; b0 < k; b0 += block) {
          double amax = 0, wsum = 0;
          for (int64_t j = b0; j < b0 + block; ++j) {
            amax = std::max(amax, std::fabs(double(x[t * k + j])));
            wsum += std::fabs(double(wd[r * k + j]));
          }
          const double d = amax / 127;
          const double f16_part = block == kQKK ? 0.0 : 127 * d / 2048;
          quant_err += wsum * (0.5 * d * (1 + 1e-5) + f16_part);
        }
      }
      if (w.type == GgmlType::Q4_1 || w.type == GgmlType::Q5_1) {
        for (int64_t b = 0; b < k / kQK; ++b) {
          const uint8_t* wb = w.bytes.data() + r * w.view().row_size() + b * traits(w.type).type_size;
          uint16_t mh, sh;
          std::memcpy(&mh, wb + 2, 2);
          std::memcpy(&sh, a.q.data() + t * a.stride + b * sizeof(BlockQ8_1) + 2, 2);
          min_term += std::fabs(double(fp16_to_f32(mh))) * std::fabs(double(fp16_to_f32(sh))) *
                      std::ldexp(1.0, -9);
        }
      }
      const double s = scale_s(wd, a.deq, k, r, t, std::max(block, traits(w.type).block_size));
      const double tight = 2.0 * (nblocks + 8) * kEps * s + min_term + 1e-30;
      const double got = y[t * m + r];
      ASSERT_NEAR(got, exact_deq, tight)
          << type_name(w.type) << " k=" << k << " row " << r << " token " << t
          << " (vs dequantised activations)";
      ASSERT_NEAR(got, exact_x, tight + quant_err)
          << type_name(w.type) << " k=" << k << " row " << r << " token " << t
          << " (vs f32 activations)";
    }
  }
}

class MatmulTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulTypes, ScalarMatchesDequantizedReference) {
  const GgmlType t = GetParam();
  uint32_t seed = 1;
  for (const Shape& s : shapes_for(t)) {
    for (int64_t n_tokens : {1, 3, 17}) {
      check_against_reference(quantized_weights(t, s.k, s.rows, seed), n_tokens, seed + 1);
      check_against_reference(random_byte_weights(t, s.k, s.rows, seed + 2), n_tokens, seed + 3);
      seed += 4;
    }
  }
}

// `simd` against the scalar twin for weight type t on the given shapes: quantised and raw-byte
// weights, dot calls with every token count 1-8 (AVX2 takes up to 4 per call, AVX-512 up to 8),
// threads 1-4.
void check_simd_twin(const KernelTable& simd, GgmlType t, const std::vector<Shape>& shapes,
                     uint32_t seed) {
  for (const Shape& s : shapes) {
    for (int64_t n_tokens : {1, 2, 3, 6, 7, 17, 29}) {  // with 8 per call: 1, 2, 3, 6, 7, 8+8+1, 8+8+8+5
      for (int variant = 0; variant < 2; ++variant) {
        const Weights w = variant == 0 ? quantized_weights(t, s.k, s.rows, seed++)
                                       : random_byte_weights(t, s.k, s.rows, seed++);
        const auto x = random_floats(static_cast<size_t>(s.k * n_tokens), seed++);
        const auto wd = w.dequantized();
        const Acts a = quantize_acts(t, x, s.k, n_tokens);
        const int64_t nblocks = s.k / traits(t).block_size;
        const auto ref = run(scalar_table(), w, x, n_tokens, 1);
        for (int threads = 1; threads <= 4; ++threads) {
          const auto got = run(simd, w, x, n_tokens, threads);
          // Splitting work over threads never changes a result: bit-identical to 1 thread.
          const auto scalar_mt = run(scalar_table(), w, x, n_tokens, threads);
          for (int64_t tok = 0; tok < n_tokens; ++tok) {
            for (int64_t r = 0; r < s.rows; ++r) {
              const size_t i = static_cast<size_t>(tok * s.rows + r);
              ASSERT_EQ(scalar_mt[i], ref[i]) << "scalar result depends on thread count";
              const double sc = scale_s(wd, a.deq, s.k, r, tok,
                                        std::max(a.wk.act_block, traits(t).block_size));
              const double tol = 2.0 * (8 * nblocks + 16) * kEps * sc + 1e-30;
              ASSERT_NEAR(got[i], ref[i], tol)
                  << simd.name << " " << type_name(t) << " k=" << s.k << " rows=" << s.rows
                  << " tokens=" << n_tokens << " threads=" << threads << " row " << r << " token "
                  << tok << (variant ? " (random bytes)" : " (quantised)");
            }
          }
        }
      }
    }
  }
}

TEST_P(MatmulTypes, Avx2MatchesScalarTwinAtAllThreadCounts) {
  const KernelTable* avx2 = avx2_table();
  if (!avx2) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C";
  check_simd_twin(*avx2, GetParam(), shapes_for(GetParam()), 100);
}

TEST_P(MatmulTypes, Avx512MatchesScalarTwinAtAllThreadCounts) {
  const KernelTable* avx512 = avx512_table();
  if (!avx512) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ/VNNI (or the OS does not save ZMM state)";
  check_simd_twin(*avx512, GetParam(), shapes_for(GetParam()), 200);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes, ::testing::ValuesIn(all_weight_types()),
                         [](const auto& info) { return std::string(type_name(info.param)); });

// The types with AVX-512 VNNI dots, at the row lengths decode meets in DeepSeek-V2-Lite (1408 and
// 10944 are expert/dense FFN widths, odd multiples of 32 blocks for Q5_0: exercises the lone
// last block and the partial 16-block scale groups).
const std::vector<GgmlType> kAvx512Types = {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0,
                                            GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

TEST(MatmulAvx512, MatchesScalarTwinAtDecodeRowLengths) {
  const KernelTable* avx512 = avx512_table();
  if (!avx512) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ/VNNI (or the OS does not save ZMM state)";
  for (GgmlType t : kAvx512Types) {
    const bool k_quant = traits(t).block_size == kQKK;
    const std::vector<Shape> shapes = k_quant
        ? std::vector<Shape>{{256, 3}, {2048, 3}, {2816, 2}}
        : std::vector<Shape>{{256, 3}, {1408, 3}, {2048, 2}, {10944, 2}, {32 * 17, 2}};
    check_simd_twin(*avx512, t, shapes, 300);
  }
}

// Blocks filled with one byte pattern (all levels at their maximum 0xFF, minimum 0x00, Q8_0's
// -128 as 0x80, mixed nibbles), every f16 scale field set to `scale`, against activations at
// their extremes (every element quantised to +127, to -127, alternating) and random ones.
Weights filled_weights(GgmlType t, int64_t k, int64_t rows, uint8_t fill, float scale) {
  Weights w{t, k, rows, std::vector<uint8_t>(row_bytes(t, k) * rows, fill)};
  const size_t bs = traits(t).type_size;
  const uint16_t h = f32_to_fp16(scale);
  for (size_t b = 0; b < w.bytes.size() / bs; ++b)
    for (int off : testing::f16_fields(t)) std::memcpy(w.bytes.data() + b * bs + off, &h, 2);
  return w;
}

TEST(MatmulAvx512, ExtremeBlocksMatchScalarTwin) {
  const KernelTable* avx512 = avx512_table();
  if (!avx512) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ/VNNI (or the OS does not save ZMM state)";
  const int64_t k = 2048, rows = 2;
  for (GgmlType t : kAvx512Types) {
    for (uint8_t fill : {0xFF, 0x00, 0x80, 0x7F, 0x0F, 0xF0, 0x5A}) {
      for (float scale : {1.0f, 0.0f, -0.03125f}) {
        const Weights w = filled_weights(t, k, rows, fill, scale);
        const auto wd = w.dequantized();
        for (int pattern = 0; pattern < 4; ++pattern) {
          const int64_t n_tokens = 4;
          std::vector<float> x = random_floats(static_cast<size_t>(k * n_tokens), 7 + pattern);
          for (size_t i = 0; i < x.size(); ++i)
            if (pattern == 0) x[i] = 1.0f;
            else if (pattern == 1) x[i] = -1.0f;
            else if (pattern == 2) x[i] = i % 2 ? 1.0f : -1.0f;
          const Acts a = quantize_acts(t, x, k, n_tokens);
          const auto ref = run(scalar_table(), w, x, n_tokens, 1);
          for (int threads : {1, 4}) {
            const auto got = run(*avx512, w, x, n_tokens, threads);
            for (int64_t tok = 0; tok < n_tokens; ++tok)
              for (int64_t r = 0; r < rows; ++r) {
                const size_t i = static_cast<size_t>(tok * rows + r);
                const double sc = scale_s(wd, a.deq, k, r, tok, std::max(a.wk.act_block, traits(t).block_size));
                const double tol = 2.0 * (8 * (k / traits(t).block_size) + 16) * kEps * sc;
                if (scale == 0.0f) {
                  ASSERT_EQ(got[i], 0.0f) << type_name(t) << " fill " << int(fill) << " pattern " << pattern;
                } else {
                  ASSERT_NEAR(got[i], ref[i], tol) << type_name(t) << " fill " << int(fill) << " scale "
                                                   << scale << " pattern " << pattern << " token " << tok;
                }
              }
          }
        }
      }
    }
  }
}

// With weight scale 1 and integer activations whose block maximum is 127 (so the activation
// scale is 1), every partial sum of the 32-element types is an integer below 2^24: the AVX-512
// result must equal the exact dot product of the dequantised rows, bit for bit.
TEST(MatmulAvx512, IntegerSumsAreExact) {
  const KernelTable* avx512 = avx512_table();
  if (!avx512) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ/VNNI (or the OS does not save ZMM state)";
  const int64_t k = 256 + 32, rows = 5, n_tokens = 4;  // 9 blocks: pairs plus a lone block
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0}) {
    Weights w = random_byte_weights(t, k, rows, 11);
    const size_t bs = traits(t).type_size;
    const uint16_t one = f32_to_fp16(1.0f);
    for (size_t b = 0; b < w.bytes.size() / bs; ++b) std::memcpy(w.bytes.data() + b * bs, &one, 2);
    std::mt19937 rng(12);
    std::vector<float> x(static_cast<size_t>(k * n_tokens));
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = i % 32 == 5 ? (rng() & 1 ? 127.0f : -127.0f) : static_cast<float>(int(rng() % 255) - 127);
    const auto wd = w.dequantized();
    const auto got = run(*avx512, w, x, n_tokens, 2);
    for (int64_t tok = 0; tok < n_tokens; ++tok)
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0;
        for (int64_t j = 0; j < k; ++j) exact += double(wd[r * k + j]) * x[tok * k + j];
        ASSERT_EQ(double(got[tok * rows + r]), exact) << type_name(t) << " row " << r << " token " << tok;
      }
  }
}

// More tokens than one token block (64) and rows spanning several tiles and row chunks: the
// driver's tiling must cover every (row, token) exactly once.
TEST(Matmul, TilingCoversManyTokensAndRows) {
  for (GgmlType t : {GgmlType::F16, GgmlType::Q4_0, GgmlType::Q6_K}) {
    const int64_t k = 512, rows = 100, n_tokens = 70;
    const Weights w = quantized_weights(t, k, rows, 5);
    const auto x = random_floats(static_cast<size_t>(k * n_tokens), 6);
    const auto wd = w.dequantized();
    const Acts a = quantize_acts(t, x, k, n_tokens);
    const auto ref = run(scalar_table(), w, x, n_tokens, 1);
    for (const KernelTable* table : testing::all_tables()) {
      for (int threads : {1, 3}) {
        const auto got = run(*table, w, x, n_tokens, threads);
        for (int64_t tok = 0; tok < n_tokens; ++tok)
          for (int64_t r = 0; r < rows; ++r) {
            double exact = 0;
            for (int64_t j = 0; j < k; ++j) exact += double(wd[r * k + j]) * a.deq[tok * k + j];
            const double sc = scale_s(wd, a.deq, k, r, tok, std::max(a.wk.act_block, 32));
            const size_t i = static_cast<size_t>(tok * rows + r);
            ASSERT_NEAR(ref[i], exact, 2.0 * (k + 8) * kEps * sc) << type_name(t);
            ASSERT_NEAR(got[i], exact, 2.0 * (8 * k + 16) * kEps * sc) << table->name << " " << type_name(t);
          }
      }
    }
  }
}

TEST(Matmul, RejectsUnsupportedTypeNamingTheTensor) {
  std::vector<uint8_t> bytes(1024);
  TensorView v;
  v.name = "blk.0.ffn_up.weight";
  v.type = GgmlType::IQ2_XXS;
  v.n_dims = 2;
  v.ne = {256, 2, 1, 1};
  v.data = bytes.data();
  ThreadPool pool(1);
  std::vector<float> x(256), y(2);
  try {
    matmul(v, x.data(), 1, y.data(), pool);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(matmul_supports(GgmlType::IQ2_XXS));
}

TEST(Matmul, RejectsRowLengthNotMultipleOfBlock) {
  std::vector<uint8_t> bytes(1024);
  TensorView v;
  v.name = "w";
  v.type = GgmlType::Q4_K;
  v.ne = {100, 2, 1, 1};
  v.data = bytes.data();
  ThreadPool pool(1);
  std::vector<float> x(100), y(2);
  EXPECT_THROW(matmul(v, x.data(), 1, y.data(), pool), Error);
  v.ne = {256, 2, 1, 1};
  v.data = nullptr;
  EXPECT_THROW(matmul(v, x.data(), 1, y.data(), pool), Error);
}

TEST(Matmul, ZeroTokensIsANoOp) {
  const Weights w = quantized_weights(GgmlType::Q8_0, 64, 3, 7);
  ThreadPool pool(2);
  matmul(w.view(), nullptr, 0, nullptr, pool);
}

TEST(Matmul, SmallIntegerWeightsGiveExactProducts) {
  // Integer weights and activations in F32 are exact in f32: checks indexing y[t*M + r].
  const int64_t k = 5, m = 3, n = 2;
  std::vector<float> wf = {1, 2, 3, 4, 5, 0, 1, 0, 1, 0, -1, -1, -1, -1, -1};
  Weights w{GgmlType::F32, k, m, std::vector<uint8_t>(wf.size() * 4)};
  std::memcpy(w.bytes.data(), wf.data(), w.bytes.size());
  std::vector<float> x = {1, 1, 1, 1, 1, 1, 0, 2, 0, 3};
  std::vector<float> y(m * n);
  ThreadPool pool(2);
  matmul(w.view(), x.data(), n, y.data(), pool);
  EXPECT_EQ(y, (std::vector<float>{15, 2, -5, 1 + 6 + 15, 0, -6}));
}

}  // namespace
}  // namespace whale::kernels
