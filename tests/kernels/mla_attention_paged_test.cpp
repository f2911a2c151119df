// Paged, tiled MLA attention (mla_attention.h) against a double-precision evaluation of
// deepseek-arch §2.7 over the same (dequantised) cache rows: f32, f16 and Q8_0 caches, both
// kernel tables, several queries with causal key counts (including 0 and counts that are not
// multiples of the tile or block), head counts that are not multiples of 4, thread counts 1-4
// (which changes how keys are split and merged). Tolerance as in mla_attention_test.cpp.
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
  std::vector<int32_t> n_keys;
  int64_t n_heads, kv_rank, rope_dim, block_rows;
};

// Stores row values in `type`; returns the values as the kernel will see them.
std::vector<float> store_row(GgmlType type, const float* v, int64_t n, uint8_t* dst) {
  std::vector<float> seen(v, v + n);
  if (type == GgmlType::F32) {
    std::memcpy(dst, v, n * sizeof(float));
  } else if (type == GgmlType::F16) {
    auto* h = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) seen[i] = fp16_to_f32(h[i] = f32_to_fp16(v[i]));
  } else if (type == GgmlType::BF16) {  // pair layout: this row's values 4 bytes apart
    auto* h = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) seen[i] = bf16_to_f32(h[2 * i] = f32_to_bf16(v[i]));
  } else {
    quantize_row(GgmlType::Q8_0, v, dst, n);
    dequantize_row(GgmlType::Q8_0, dst, seen.data(), n);
  }
  return seen;
}

void check(const KernelTable& table, GgmlType type, const Case& cs, int threads) {
  const int64_t R = cs.kv_rank, P = cs.rope_dim, W = R + P, H = cs.n_heads;
  const int64_t NQ = static_cast<int64_t>(cs.n_keys.size());
  int32_t max_keys = 0;
  for (int32_t n : cs.n_keys) max_keys = std::max(max_keys, n);
  const size_t rbytes = row_bytes(type, W) + 6;  // padded rows: the stride is honoured
  const int64_t n_blocks = std::max<int64_t>(1, (max_keys + cs.block_rows - 1) / cs.block_rows);
  // Blocks deliberately out of order in memory.
  std::vector<std::vector<uint8_t>> storage(static_cast<size_t>(n_blocks),
                                            std::vector<uint8_t>(rbytes * cs.block_rows));
  std::vector<const uint8_t*> blocks(static_cast<size_t>(n_blocks));
  for (int64_t b = 0; b < n_blocks; ++b) blocks[b] = storage[n_blocks - 1 - b].data();
  const auto raw = random_floats(static_cast<size_t>(std::max<int32_t>(max_keys, 1) * W), 21);
  std::vector<float> rows(raw.size());
  for (int64_t t = 0; t < max_keys; ++t) {
    const PagedLatentCache layout{type, blocks.data(), cs.block_rows, rbytes, R, P};
    auto* dst = const_cast<uint8_t*>(latent_row_ptr(layout, blocks.data(), t));
    const auto seen = store_row(type, raw.data() + t * W, W, dst);
    std::copy(seen.begin(), seen.end(), rows.begin() + t * W);
  }
  const size_t qr_stride = static_cast<size_t>(P + 5);
  const auto ql = random_floats(static_cast<size_t>(NQ * H * R), 22, 0.2f);
  const auto qr = random_floats(static_cast<size_t>(NQ * H) * qr_stride, 23, 0.2f);
  const float scale = 0.1352338f;
  std::vector<float> out(static_cast<size_t>(NQ * H * R), NAN);
  PagedLatentCache c{type, blocks.data(), cs.block_rows, rbytes, R, P};
  MlaQueries q{NQ, H, ql.data(), qr.data(), qr_stride, cs.n_keys.data(), out.data()};
  ThreadPool pool(threads);
  mla_attention_paged_with(table, c, q, scale, pool);
  for (int64_t i = 0; i < NQ; ++i)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t T = cs.n_keys[i];
      const float* o = out.data() + (i * H + h) * R;
      if (T == 0) {
        for (int64_t x = 0; x < R; ++x) ASSERT_EQ(o[x], 0.0f);
        continue;
      }
      std::vector<double> s(T);
      double mx = -1e300, sum = 0;
      for (int64_t t = 0; t < T; ++t) {
        double v = 0;
        for (int64_t x = 0; x < R; ++x) v += double(ql[(i * H + h) * R + x]) * rows[t * W + x];
        for (int64_t x = 0; x < P; ++x) v += double(qr[(i * H + h) * qr_stride + x]) * rows[t * W + R + x];
        s[t] = scale * v;
        mx = std::max(mx, s[t]);
      }
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int64_t x = 0; x < R; ++x) {
        double ref = 0;
        for (int64_t t = 0; t < T; ++t) ref += s[t] / sum * rows[t * W + x];
        ASSERT_NEAR(o[x], ref, 2e-5) << table.name << " " << type_name(type) << " query " << i << " head " << h
                                     << " elem " << x << " threads " << threads;
      }
    }
}

std::vector<const KernelTable*> tables() { return testing::all_tables(); }

TEST(MlaAttentionPaged, MatchesReferenceForEveryCacheTypeTableAndThreadCount) {
  const std::vector<Case> cases = {
      {{1}, 16, 64, 32, 64},                        // decode, one key
      {{200}, 16, 64, 32, 64},                      // decode, keys split over threads
      {{0, 3, 67, 130}, 5, 32, 32, 16},             // prefill-like causal counts, odd heads
      {{129, 130, 131}, 3, 96, 0, 64},              // no rope part
  };
  for (const KernelTable* t : tables())
    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::BF16})
      for (const Case& cs : cases)
        for (int threads = 1; threads <= 4; ++threads) check(*t, type, cs, threads);
}

TEST(MlaAttentionPaged, LargeScoresStaySafe) {
  // Scores in the hundreds: the online softmax must never exponentiate an unshifted score.
  const int64_t R = 32, P = 32, W = R + P;
  std::vector<float> row(static_cast<size_t>(100 * W));
  for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>((i * 7919) % 23) - 11.0f;
  std::vector<const uint8_t*> blocks{reinterpret_cast<const uint8_t*>(row.data())};
  std::vector<float> ql(R, 3.0f), qr(P, 3.0f), out(R);
  const int32_t n = 100;
  PagedLatentCache c{GgmlType::F32, blocks.data(), 128, W * sizeof(float), R, P};
  MlaQueries q{1, 1, ql.data(), qr.data(), static_cast<size_t>(P), &n, out.data()};
  ThreadPool pool(2);
  mla_attention_paged(c, q, 1.0f, pool);
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
}

TEST(MlaAttentionPaged, QueriesOfSeveralSequencesInOneCallEqualOneCallEach) {
  // Three sequences with their own block tables (a decode step of three streams, one a prompt
  // chunk): one call with per-query tables must give exactly what a call per sequence gives.
  const int64_t R = 64, P = 32, W = R + P, H = 4, B = 16;
  const std::vector<int32_t> ctx = {37, 5, 70};  // keys of each sequence's last query
  std::vector<std::vector<float>> store(ctx.size());
  std::vector<std::vector<const uint8_t*>> tables_of(ctx.size());
  for (size_t s = 0; s < ctx.size(); ++s) {
    const int64_t n_blocks = (ctx[s] + B - 1) / B;
    store[s] = random_floats(static_cast<size_t>(n_blocks * B * W), 40 + static_cast<uint32_t>(s));
    for (int64_t b = 0; b < n_blocks; ++b)
      tables_of[s].push_back(reinterpret_cast<const uint8_t*>(store[s].data() + b * B * W));
  }
  // Sequence 2 contributes a chunk of 3 queries (keys 68, 69, 70), the others one each.
  const std::vector<int> seq_of = {0, 1, 2, 2, 2};
  const std::vector<int32_t> keys = {37, 5, 68, 69, 70};
  const int64_t NQ = static_cast<int64_t>(keys.size());
  const auto ql = random_floats(static_cast<size_t>(NQ * H * R), 50, 0.2f);
  const auto qr = random_floats(static_cast<size_t>(NQ * H * P), 51, 0.2f);
  std::vector<const uint8_t* const*> per_query;
  for (int s : seq_of) per_query.push_back(tables_of[s].data());
  for (const KernelTable* t : tables())
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      std::vector<float> together(static_cast<size_t>(NQ * H * R)), alone(together.size());
      PagedLatentCache c{GgmlType::F32, nullptr, B, W * sizeof(float), R, P};
      MlaQueries q{NQ, H, ql.data(), qr.data(), static_cast<size_t>(P), keys.data(), together.data()};
      q.seq_blocks = per_query.data();
      mla_attention_paged_with(*t, c, q, 0.125f, pool);
      for (int64_t i = 0; i < NQ; ++i) {
        PagedLatentCache ci = c;
        ci.blocks = tables_of[seq_of[i]].data();
        MlaQueries qi{1, H, ql.data() + i * H * R, qr.data() + i * H * P, static_cast<size_t>(P), &keys[i],
                      alone.data() + i * H * R};
        mla_attention_paged_with(*t, ci, qi, 0.125f, pool);
      }
      for (size_t k = 0; k < together.size(); ++k)
        ASSERT_NEAR(together[k], alone[k], 1e-6f * (1.0f + std::fabs(alone[k]))) << t->name << " value " << k;
    }
}

TEST(MlaAttentionPaged, RejectsBadInput) {
  ThreadPool pool(1);
  float buf[64] = {};
  int32_t n = 1;
  const uint8_t* blk = reinterpret_cast<const uint8_t*>(buf);
  PagedLatentCache c{GgmlType::Q4_K, &blk, 64, 64, 32, 0};
  MlaQueries q{1, 1, buf, buf, 0, &n, buf};
  EXPECT_THROW(mla_attention_paged(c, q, 1.0f, pool), Error);
  c.type = GgmlType::F32;
  int32_t neg = -1;
  q.n_keys = &neg;
  EXPECT_THROW(mla_attention_paged(c, q, 1.0f, pool), Error);
}

}  // namespace
}  // namespace whale::kernels
