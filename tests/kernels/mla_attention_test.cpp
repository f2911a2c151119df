// MLA decode attention against a double-precision evaluation of deepseek-arch §2.7, for f32
// and f16 caches, both tables, head counts that are and are not multiples of the head group,
// and thread counts 1-4. Tolerance: softmax weights are accurate to ~1e-6 relative and the
// output is a convex combination of cache rows, so |Δ| <= 1e-5 · max|latent| (+ score error).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "util/error.h"
#include "tables.h"

namespace whale::kernels {
namespace {

using testing::random_floats;

struct Case {
  int64_t n_ctx, n_heads, kv_rank, rope_dim;
};

void check(const KernelTable& table, GgmlType type, const Case& cs, int threads) {
  const int64_t R = cs.kv_rank, P = cs.rope_dim, T = cs.n_ctx, H = cs.n_heads;
  const size_t lstride = R + 3, rstride = P + 1;  // padded rows: strides are honoured
  auto lat = random_floats(T * lstride, 11), rope = random_floats(T * rstride, 12);
  std::vector<uint16_t> lat16(lat.size()), rope16(rope.size());
  if (type == GgmlType::F16) {
    for (size_t i = 0; i < lat.size(); ++i) lat[i] = fp16_to_f32(lat16[i] = f32_to_fp16(lat[i]));
    for (size_t i = 0; i < rope.size(); ++i)
      rope[i] = fp16_to_f32(rope16[i] = f32_to_fp16(rope[i]));
  }
  LatentCacheView c;
  c.type = type;
  c.latent = type == GgmlType::F16 ? static_cast<const void*>(lat16.data()) : lat.data();
  c.rope = type == GgmlType::F16 ? static_cast<const void*>(rope16.data()) : rope.data();
  c.latent_stride = lstride;
  c.rope_stride = rstride;
  c.kv_rank = R;
  c.rope_dim = P;
  const auto ql = random_floats(H * R, 13, 0.2f), qr = random_floats(H * P, 14, 0.2f);
  const float scale = 0.1352338f;
  std::vector<float> out(H * R, NAN);
  ThreadPool pool(threads);
  mla_attention_with(table, c, T, ql.data(), qr.data(), H, scale, out.data(), pool);
  for (int64_t h = 0; h < H; ++h) {
    std::vector<double> s(T);
    double mx = -1e300, sum = 0;
    for (int64_t t = 0; t < T; ++t) {
      double v = 0;
      for (int64_t i = 0; i < R; ++i) v += double(ql[h * R + i]) * lat[t * lstride + i];
      for (int64_t i = 0; i < P; ++i) v += double(qr[h * P + i]) * rope[t * rstride + i];
      s[t] = scale * v;
      mx = std::max(mx, s[t]);
    }
    for (auto& v : s) sum += (v = std::exp(v - mx));
    for (int64_t i = 0; i < R; ++i) {
      double ref = 0;
      for (int64_t t = 0; t < T; ++t) ref += s[t] / sum * lat[t * lstride + i];
      ASSERT_NEAR(out[h * R + i], ref, 2e-5) << table.name << " " << type_name(type) << " head "
                                             << h << " i " << i << " threads " << threads;
    }
  }
}

TEST(MlaAttention, MatchesDoubleReference) {
  const std::vector<const KernelTable*> tables = testing::all_tables();
  for (const KernelTable* k : tables)
    for (GgmlType type : {GgmlType::F32, GgmlType::F16})
      for (const Case& cs : {Case{1, 1, 32, 8}, Case{7, 3, 64, 16}, Case{33, 17, 512, 64},
                             Case{100, 8, 40, 0}})
        for (int threads = 1; threads <= 4; ++threads) check(*k, type, cs, threads);
}

TEST(MlaAttention, EmptyContextGivesZerosAndBadTypeThrows) {
  LatentCacheView c;
  c.kv_rank = 4;
  std::vector<float> q(8, 1.0f), out(8, NAN);
  ThreadPool pool(2);
  mla_attention(c, 0, q.data(), q.data(), 2, 1.0f, out.data(), pool);
  for (float v : out) EXPECT_EQ(v, 0.0f);
  c.type = GgmlType::Q8_0;
  EXPECT_THROW(mla_attention(c, 0, q.data(), q.data(), 2, 1.0f, out.data(), pool), Error);
}

}  // namespace
}  // namespace whale::kernels
