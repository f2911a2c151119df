// The AMX tile-product path (kernel_table.h kGemmRows, matmul.h prompt tokens) against its
// scalar twins and against an independent bf16 reference built from dequantize_row.
//
// Tolerances, derived (eps = 2^-23): the twin's gemm is the exactly rounded sum of exact bf16
// products; the tile unit sums K products in f32 in its own order, so |Δ| <= K·eps·Σ|p| (+ one
// rounding). Against the unrounded f32 product Σ w·x the bf16 path also rounds every weight and
// activation to 8 significant bits: relative error <= u = 2^-8 each (bf16's unit roundoff), so
// |Δ| <= (2^-7 + 2^-16 + K·eps)·Σ|w·x|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/scalar_kernels.h"
#include "tensor/float_convert.h"
#include "util/thread_pool.h"

namespace whale::kernels {
namespace {

using testing::all_weight_types;
using testing::quantized_weights;
using testing::random_byte_weights;
using testing::random_floats;

#define WHALE_REQUIRE_AMX()                                                                        \
  const KernelTable* amx = amx_table();                                                            \
  if (!amx) GTEST_SKIP() << "CPU or OS lacks AMX-TILE/AMX-BF16/AVX512-BF16 (or tile permission)"

// Types whose prompt tokens take the tile products (F32/F16 weights stay exact).
bool tiled(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16; }

// Bits equal, or the twin's value is subnormal and the AMX one a zero of the same sign
// (AVX512-BF16 conversion flushes subnormal inputs).
void expect_same_bf16(uint16_t got, uint16_t want, const std::string& where) {
  if (got == want) return;
  const float w = bf16_to_f32(want);
  const bool flushed = std::fabs(w) < FLT_MIN && (got & 0x7fff) == 0 && (got & 0x8000) == (want & 0x8000);
  EXPECT_TRUE(flushed) << where << ": got " << bf16_to_f32(got) << " want " << w;
}

TEST(GemmAmx, DecodeMatchesScalarTwinForEveryType) {
  WHALE_REQUIRE_AMX();
  for (GgmlType t : all_weight_types()) {
    const int64_t k = traits(t).block_size == 1 ? 96 : 1024;
    for (const auto& w : {quantized_weights(t, k, 3, 11), random_byte_weights(t, k, 3, 12)}) {
      for (int64_t r = 0; r < w.rows; ++r) {
        const uint8_t* row = w.bytes.data() + r * row_bytes(t, k);
        std::vector<uint16_t> got(k), want(k);
        amx->decode_bf16(t, row, got.data(), k);
        scalar::decode_bf16(t, row, want.data(), k);
        for (int64_t i = 0; i < k; ++i)
          expect_same_bf16(got[i], want[i], std::string(type_name(t)) + " row " + std::to_string(r) + " elt " + std::to_string(i));
      }
    }
  }
}

TEST(GemmAmx, PackMatchesScalarTwin) {
  WHALE_REQUIRE_AMX();
  for (int64_t k : {32, 96, 2048}) {
    const int64_t n = 37, padded = gemm_padded_tokens(n);
    const auto x = random_floats(static_cast<size_t>(n * k), 5, 3.0f);
    std::vector<uint16_t> got(padded * k, 0xffff), want(padded * k, 0xfffe);  // every element is written
    for (int64_t t0 = 0; t0 < padded; t0 += 16) {
      const int64_t valid = std::clamp<int64_t>(n - t0, 0, 16);
      const size_t group = static_cast<size_t>(t0 / 16 * (k / kGemmChunk) * 512);
      amx->pack_bf16(x.data() + std::min(t0, n) * k, static_cast<size_t>(k), valid, k, got.data() + group);
      scalar::pack_bf16(x.data() + std::min(t0, n) * k, static_cast<size_t>(k), valid, k, want.data() + group);
    }
    for (int64_t t = n; t < padded; ++t)
      for (int64_t i = 0; i < k; ++i) ASSERT_EQ(want[gemm_packed_index(k, t, i)], 0) << "padding token " << t;
    for (size_t i = 0; i < got.size(); ++i) expect_same_bf16(got[i], want[i], "k " + std::to_string(k) + " index " + std::to_string(i));
  }
}

TEST(GemmAmx, GemmMatchesScalarTwin) {
  WHALE_REQUIRE_AMX();
  for (int64_t k : {32, 256, 1408}) {
    // The packed input holds two chunks more per token than the product uses (packed_chunks >
    // K/32, as MLA's prompt attention uses it).
    const int64_t kp = k + 2 * kGemmChunk, ps = gemm_panel_stride(k);
    for (int64_t rows : {1, 16, 17, 32}) {
      for (int64_t n : {1, 16, 33, 64}) {
        for (bool out_rows : {false, true}) {
          const auto wf = random_floats(static_cast<size_t>(kGemmRows * ps), 21, 0.5f);
          const auto xf = random_floats(static_cast<size_t>(n * kp), 22, 2.0f);
          std::vector<uint16_t> panel(kGemmRows * ps), packed(gemm_padded_tokens(n) * kp, 0);
          for (size_t i = 0; i < wf.size(); ++i) panel[i] = f32_to_bf16(wf[i]);
          for (int64_t t0 = 0; t0 < n; t0 += 16)
            scalar::pack_bf16(xf.data() + t0 * kp, static_cast<size_t>(kp), std::min<int64_t>(16, n - t0), kp,
                              packed.data() + t0 / 16 * (kp / kGemmChunk) * 512);
          const int64_t outer = out_rows ? rows : n, inner = out_rows ? n : rows;
          const size_t ys = static_cast<size_t>(inner + 3);  // a y stride wider than a y row
          std::vector<float> got(outer * ys, -7.0f), want(outer * ys, -7.0f);
          amx->gemm_bf16(panel.data(), packed.data(), k, kp / kGemmChunk, n, rows, got.data(), ys, out_rows);
          scalar::gemm_bf16(panel.data(), packed.data(), k, kp / kGemmChunk, n, rows, want.data(), ys, out_rows);
          for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              double mag = 0;
              for (int64_t i = 0; i < k; ++i)
                mag += std::fabs(double(bf16_to_f32(panel[r * ps + i])) * bf16_to_f32(packed[gemm_packed_index(kp, t, i)]));
              const size_t at = out_rows ? r * ys + t : t * ys + r;
              ASSERT_NEAR(got[at], want[at], (k + 1) * FLT_EPSILON * mag + 1e-30)
                  << "k " << k << " rows " << rows << " tokens " << n << " out_rows " << out_rows << " at " << t << "," << r;
            }
          }
          for (int64_t o = 0; o < outer; ++o)
            for (size_t i = static_cast<size_t>(inner); i < ys; ++i) ASSERT_EQ(got[o * ys + i], -7.0f) << "wrote past a row";
        }
      }
    }
  }
}

// matmul with prompt tokens through the AMX table, against Σ bf16(w)·bf16(x) from dequantize_row
// (the twin semantics, computed independently) and against the unrounded f32 product.
TEST(GemmAmx, MatmulPromptTokensMatchBf16ReferenceAtAllThreadCounts) {
  WHALE_REQUIRE_AMX();
  for (GgmlType t : all_weight_types()) {
    if (!tiled(t)) continue;  // F32/F16 weights always take the exact dot products
    const int64_t k = traits(t).block_size == 32 ? 544 : 512;
    for (int64_t rows : {7, 35, 64}) {
      const auto w = quantized_weights(t, k, rows, 31);
      const auto wd = w.dequantized();
      const TensorView W = w.view();
      for (int64_t n : {1, 8, 33}) {
        const auto x = random_floats(static_cast<size_t>(n * k), 32);
        for (int threads = 1; threads <= 4; ++threads) {
          ThreadPool pool(threads);
          std::vector<float> y(n * rows, -1.0f);
          matmul_with(*amx, W, x.data(), n, y.data(), pool, /*prompt_from=*/0);
          for (int64_t tok = 0; tok < n; ++tok)
            for (int64_t r = 0; r < rows; ++r) {
              double ref16 = 0, ref32 = 0, mag = 0;
              for (int64_t i = 0; i < k; ++i) {
                const double a = wd[r * k + i], b = x[tok * k + i];
                ref16 += double(bf16_to_f32(f32_to_bf16(wd[r * k + i]))) * bf16_to_f32(f32_to_bf16(x[tok * k + i]));
                ref32 += a * b;
                mag += std::fabs(a * b);
              }
              const float got = y[tok * rows + r];
              ASSERT_NEAR(got, ref16, (k + 1) * FLT_EPSILON * mag * 1.01 + 1e-30)
                  << type_name(t) << " rows " << rows << " tokens " << n << " threads " << threads;
              ASSERT_NEAR(got, ref32, (std::ldexp(1.0, -7) + std::ldexp(1.0, -16) + k * FLT_EPSILON) * mag + 1e-30)
                  << type_name(t);
            }
        }
      }
    }
  }
}

// A token's result depends on its role only: the sampled tokens of a mixed product equal the
// dot-product path bit for bit, the prompt tokens equal the same tokens multiplied alone as
// prompt tokens bit for bit, whatever else shares the product.
TEST(GemmAmx, NumericsFollowTheTokenRoleNotTheBatch) {
  WHALE_REQUIRE_AMX();
  ThreadPool pool(2);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q6_K}) {
    const int64_t k = 512, rows = 40, n = 20, pf = 5;
    const auto w = quantized_weights(t, k, rows, 41);
    const TensorView W = w.view();
    const auto x = random_floats(static_cast<size_t>(n * k), 42);
    std::vector<float> mixed(n * rows), sampled(pf * rows), prompts(n * rows), exact(n * rows);
    matmul_with(*amx, W, x.data(), n, mixed.data(), pool, pf);
    matmul_with(*amx, W, x.data(), pf, sampled.data(), pool);                       // dots only
    matmul_with(*amx, W, x.data() + pf * k, n - pf, prompts.data(), pool, 0);       // tiles only
    const KernelTable* avx512 = avx512_table();
    ASSERT_NE(avx512, nullptr);
    matmul_with(*avx512, W, x.data(), n, exact.data(), pool, pf);  // no tiles in this table
    for (int64_t i = 0; i < pf * rows; ++i) {
      ASSERT_EQ(mixed[i], sampled[i]) << type_name(t) << " sampled token output " << i;
      ASSERT_EQ(mixed[i], exact[i]) << type_name(t) << " sampled token output " << i << " vs the AVX-512 table";
    }
    for (int64_t i = 0; i < (n - pf) * rows; ++i) ASSERT_EQ(mixed[pf * rows + i], prompts[i]) << type_name(t) << " prompt output " << i;
    // And the prompt tokens really took the other path (else this test could not fail).
    double diff = 0;
    for (int64_t i = pf * rows; i < n * rows; ++i) diff = std::max(diff, double(std::fabs(mixed[i] - exact[i])));
    EXPECT_GT(diff, 0.0) << type_name(t);
  }
}

// Several jobs in one batch: shared packed inputs, a job below a panel of rows, a float job
// that stays on the dots, and prompt_from past the end (no prompt tokens).
TEST(GemmAmx, BatchOfJobsEqualsJobsAlone) {
  WHALE_REQUIRE_AMX();
  ThreadPool pool(3);
  const int64_t k = 256, n = 24;
  const auto wa = quantized_weights(GgmlType::Q4_K, k, 50, 51), wb = quantized_weights(GgmlType::Q8_0, k, 9, 52);
  const auto wc = random_byte_weights(GgmlType::F16, k, 33, 53);
  const TensorView A = wa.view(), B = wb.view(), C = wc.view();
  const auto x = random_floats(static_cast<size_t>(n * k), 54);
  std::vector<float> ya(n * 50), yb(n * 9), yc(n * 33), yd(n * 9);
  const MatmulJob jobs[4] = {{&A, 0, -1, x.data(), 0, ya.data(), 0, n, 3},
                             {&B, 0, -1, x.data(), 0, yb.data(), 0, n, 3},
                             {&C, 0, -1, x.data(), 0, yc.data(), 0, n, 3},
                             {&B, 0, -1, x.data(), 0, yd.data(), 0, n, n}};
  matmul_batch_with(*amx, jobs, pool);
  auto alone = [&](const TensorView& W, int64_t pf) {
    std::vector<float> y(n * W.n_rows());
    matmul_with(*amx, W, x.data(), n, y.data(), pool, pf);
    return y;
  };
  EXPECT_EQ(ya, alone(A, 3));
  EXPECT_EQ(yb, alone(B, 3));
  EXPECT_EQ(yc, alone(C, 3));
  EXPECT_EQ(yc, alone(C, kNoPromptTokens)) << "F16 weights must never take the tile products";
  EXPECT_EQ(yd, alone(B, kNoPromptTokens));
}

}  // namespace
}  // namespace whale::kernels
