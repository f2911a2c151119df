// MLA prompt attention on tile products (mla_attention.h mla_attention_prompt) against an
// independent evaluation of its specified numerics: scores from bf16-rounded queries and cache
// rows, an exact softmax, outputs from bf16-rounded probabilities and latent values.
//
// Tolerance, derived (eps = 2^-23): the kernel sums the scores in f32 (|Δs_j| <= scale·(W+1)·eps·
// Σ|q·k_j|), which moves each probability by a factor within e^(±2·max|Δs|); it rounds the
// unnormalised exponentials to bf16 and divides by their f32 sum at the end, where the reference
// rounds p_j itself: each rounding is within u = 2^-8 (bf16's unit roundoff) of the exact term, so
// the two differ by at most 2^-7 relative, plus f32 roundings.
// Hence |Δo_d| <= (2^-7 + 2.01·max|Δs| + 1e-5)·Σ_j p_j·|v_j,d| + 1e-7.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

namespace whale::kernels {
namespace {

using testing::random_floats;

constexpr int64_t kR = 64, kP = 32, kW = kR + kP, kBlockRows = 16;
constexpr size_t kRopeStride = 40;  // wider than kP, as the model's q rows are

double bf(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// A paged latent cache of n rows of type t, and the rows as the kernel widens them.
struct Cache {
  GgmlType type;
  size_t row_bytes = 0;
  std::vector<std::vector<uint8_t>> blocks;
  std::vector<const uint8_t*> ptrs;
  std::vector<float> rows;  // n x kW, widened exactly as stored
  Cache(GgmlType t, int64_t n, uint32_t seed) : type(t), row_bytes(whale::row_bytes(t, kW)) {
    const auto vals = random_floats(static_cast<size_t>(n * kW), seed, 1.5f);
    rows.resize(vals.size());
    for (int64_t b = 0; b * kBlockRows < n; ++b) blocks.emplace_back(row_bytes * kBlockRows);
    for (int64_t r = 0; r < n; ++r) {
      uint8_t* dst = blocks[r / kBlockRows].data() + row_bytes * (r % kBlockRows);
      quantize_row(t, vals.data() + r * kW, dst, kW);
      dequantize_row(t, dst, rows.data() + r * kW, kW);
    }
    for (auto& b : blocks) ptrs.push_back(b.data());
  }
  PagedLatentCache view() const { return {type, ptrs.data(), kBlockRows, row_bytes, kR, kP}; }
};

struct Queries {
  int64_t n, heads;
  std::vector<float> lat, rope, out;
  Queries(int64_t n_, int64_t h, uint32_t seed)
      : n(n_), heads(h), lat(random_floats(static_cast<size_t>(n_ * h * kR), seed)),
        rope(random_floats(static_cast<size_t>(n_ * h) * kRopeStride, seed + 1)), out(static_cast<size_t>(n_ * h * kR), -9.0f) {}
  MlaQueries view(int64_t first = 0, int64_t count = -1) {
    MlaQueries q;
    q.n_queries = count < 0 ? n : count;
    q.n_heads = heads;
    q.q_lat = lat.data() + first * heads * kR;
    q.q_rope = rope.data() + static_cast<size_t>(first * heads) * kRopeStride;
    q.q_rope_stride = kRopeStride;
    q.out = out.data() + first * heads * kR;
    return q;
  }
};

#define WHALE_REQUIRE_AMX()                                                                        \
  const KernelTable* amx = amx_table();                                                            \
  if (!amx) GTEST_SKIP() << "CPU or OS lacks AMX-TILE/AMX-BF16/AVX512-BF16 (or tile permission)"

TEST(MlaAttentionPrompt, MatchesBf16ReferenceForEveryCacheType) {
  WHALE_REQUIRE_AMX();
  const float scale = 0.11f;
  for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::F32}) {
    for (int64_t first : {0, 37}) {
      for (int64_t nq : {1, 5, 40}) {
        const int64_t heads = 3;  // rows per block not a multiple of 16
        const Cache cache(t, first + nq, 7);
        Queries q(nq, heads, 8);
        ThreadPool pool(2);
        ASSERT_TRUE(mla_attention_prompt_with(*amx, cache.view(), q.view(), first, scale, pool));
        for (int64_t i = 0; i < nq; ++i)
          for (int64_t h = 0; h < heads; ++h) {
            const int64_t row = i * heads + h, nk = first + i + 1;
            std::vector<double> s(nk), p(nk);
            double max_ds = 0, m = -1e300;
            for (int64_t j = 0; j < nk; ++j) {
              double dot = 0, mag = 0;
              for (int64_t d = 0; d < kW; ++d) {
                const float qv = d < kR ? q.lat[row * kR + d] : q.rope[row * kRopeStride + (d - kR)];
                const double prod = bf(qv) * bf(cache.rows[j * kW + d]);
                dot += prod;
                mag += std::fabs(prod);
              }
              s[j] = scale * dot;
              max_ds = std::max(max_ds, scale * (kW + 1) * FLT_EPSILON * mag);
              m = std::max(m, s[j]);
            }
            double sum = 0;
            for (int64_t j = 0; j < nk; ++j) sum += p[j] = std::exp(s[j] - m);
            for (int64_t d = 0; d < kR; ++d) {
              double want = 0, mag = 0;
              for (int64_t j = 0; j < nk; ++j) {
                want += bf(static_cast<float>(p[j] / sum)) * bf(cache.rows[j * kW + d]);
                mag += p[j] / sum * std::fabs(cache.rows[j * kW + d]);
              }
              const double tol = (std::ldexp(1.0, -7) + 2.01 * max_ds + 1e-5) * mag + 1e-7;
              ASSERT_NEAR(q.out[row * kR + d], want, tol)
                  << type_name(t) << " first " << first << " queries " << nq << " query " << i << " head " << h << " dim " << d;
            }
          }
      }
    }
  }
}

// A query's result does not depend on how the prompt is cut into calls (chunks), nor on the
// thread count: bit for bit.
TEST(MlaAttentionPrompt, ChunkingAndThreadsDoNotChangeResults) {
  WHALE_REQUIRE_AMX();
  const Cache cache(GgmlType::F16, 70, 11);
  Queries whole(70, 16, 12), parts = whole;
  ThreadPool one(1), three(3);
  ASSERT_TRUE(mla_attention_prompt_with(*amx, cache.view(), whole.view(), 0, 0.09f, one));
  ASSERT_TRUE(mla_attention_prompt_with(*amx, cache.view(), parts.view(0, 17), 0, 0.09f, three));
  ASSERT_TRUE(mla_attention_prompt_with(*amx, cache.view(), parts.view(17, 53), 17, 0.09f, three));
  EXPECT_EQ(whole.out, parts.out);
}

TEST(MlaAttentionPrompt, DeclinesWithoutTileProductsOrWithUnalignedRows) {
  const Cache cache(GgmlType::F16, 4, 13);
  Queries q(4, 2, 14);
  ThreadPool pool(1);
  EXPECT_FALSE(mla_attention_prompt_with(scalar_table(), cache.view(), q.view(), 0, 0.1f, pool));
  EXPECT_TRUE(std::all_of(q.out.begin(), q.out.end(), [](float v) { return v == -9.0f; })) << "declined but wrote";
  if (const KernelTable* amx = amx_table()) {
    PagedLatentCache odd = cache.view();
    odd.kv_rank = 48;  // not a multiple of 32
    odd.rope_dim = 48;
    EXPECT_FALSE(mla_attention_prompt_with(*amx, odd, q.view(), 0, 0.1f, pool));
  }
}

}  // namespace
}  // namespace whale::kernels
