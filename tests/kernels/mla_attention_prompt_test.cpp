// MLA prompt attention on tile products (mla_attention.h mla_attention_prompt) against an
// independent evaluation of its specified numerics: scores from bf16-rounded queries and cache
// rows, an exact softmax, outputs from bf16-rounded probabilities and latent values.
//
// The tolerance is derived in latent_cache_util.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "latent_cache_util.h"
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

// A paged latent cache of n rows of type t.
struct Cache : testing::LatentCache {
  Cache(GgmlType t, int64_t n, uint32_t seed) : LatentCache(t, n, kR, kP, kBlockRows, seed) {}
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
  for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::F32, GgmlType::BF16}) {
    for (int64_t first : {0, 37}) {
      for (int64_t nq : {1, 5, 40}) {
        const int64_t heads = 3;  // rows per block not a multiple of 16
        const Cache cache(t, first + nq, 7);
        Queries q(nq, heads, 8);
        ThreadPool pool(2);
        ASSERT_TRUE(mla_attention_prompt_with(*amx, cache.view(), q.view(), first, scale, pool));
        for (int64_t i = 0; i < nq; ++i)
          for (int64_t h = 0; h < heads; ++h) {
            const int64_t row = i * heads + h;
            const std::string what = std::string(type_name(t)) + " first " + std::to_string(first) + " queries " +
                                     std::to_string(nq) + " query " + std::to_string(i) + " head " + std::to_string(h);
            testing::expect_bf16_attention(cache, first + i + 1, q.lat.data() + row * kR,
                                           q.rope.data() + row * kRopeStride, scale, q.out.data() + row * kR,
                                           what.c_str());
            if (HasFatalFailure()) return;
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
