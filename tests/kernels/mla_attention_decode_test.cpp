// MLA decode attention on tile products (mla_attention.h mla_attention_decode) and the packing of
// cache rows both tile-product attentions share (PackLatentFn):
//  - the AMX packer equals its scalar twin bit for bit;
//  - decode attention over a pair-layout BF16 cache, with the AMX table and with the scalar
//    twins switched on, against the independent bf16 evaluation of latent_cache_util.h
//    (tolerance derived there), for queries of several sequences with key counts around the
//    block sizes and head counts around the tile height;
//  - a query's result is the same bits alone or in a batch, at any thread count, in one wave or
//    several.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "latent_cache_util.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace whale::kernels {
namespace {

using testing::LatentCache;
using testing::random_floats;

// The scalar twins with tile products switched on: the decode path on any CPU.
KernelTable twin_table() {
  KernelTable t = scalar_table();
  t.gemm_prompts = true;
  return t;
}

// The tables to check: the twins, and AMX where the CPU has it.
std::vector<const KernelTable*> tile_tables(const KernelTable& twin) {
  std::vector<const KernelTable*> v{&twin};
  if (const KernelTable* amx = amx_table()) v.push_back(amx);
  return v;
}

// Queries of several sequences, each over its own cache (its own block table).
struct Batch {
  int64_t R, P, H;
  size_t rope_stride;
  std::vector<std::shared_ptr<const LatentCache>> caches;  // shared by copies: read-only
  std::vector<const uint8_t* const*> tables;
  std::vector<int32_t> n_keys;
  std::vector<float> lat, rope, out;
  Batch(GgmlType t, const std::vector<int32_t>& keys, int64_t R_, int64_t P_, int64_t H_, uint32_t seed,
        int64_t block_rows = 16)
      : R(R_), P(P_), H(H_), rope_stride(static_cast<size_t>(P_ + 8)), n_keys(keys) {
    for (size_t i = 0; i < keys.size(); ++i) {
      caches.push_back(std::make_shared<const LatentCache>(t, std::max(keys[i], 1), R, P, block_rows,
                                                           seed + 10 * static_cast<uint32_t>(i)));
      tables.push_back(caches.back()->ptrs.data());
    }
    const auto n = static_cast<int64_t>(keys.size());
    lat = random_floats(static_cast<size_t>(n * H * R), seed + 1, 0.3f);
    rope = random_floats(static_cast<size_t>(n * H) * rope_stride, seed + 2, 0.3f);
    out.assign(static_cast<size_t>(n * H * R), -9.0f);
  }
  PagedLatentCache cache_view() const { return caches[0]->view(); }  // type and shape; blocks per query
  MlaQueries view(int64_t first = 0, int64_t count = -1) {
    MlaQueries q;
    q.n_queries = count < 0 ? static_cast<int64_t>(n_keys.size()) : count;
    q.n_heads = H;
    q.q_lat = lat.data() + first * H * R;
    q.q_rope = rope.data() + static_cast<size_t>(first * H) * rope_stride;
    q.q_rope_stride = rope_stride;
    q.n_keys = n_keys.data() + first;
    q.out = out.data() + first * H * R;
    q.seq_blocks = tables.data() + first;
    return q;
  }
};

TEST(PackLatent, AmxEqualsTwinBitForBit) {
  const KernelTable* amx = amx_table();
  if (!amx) GTEST_SKIP() << "CPU or OS lacks AMX-TILE/AMX-BF16/AVX512-BF16 (or tile permission)";
  for (GgmlType t : {GgmlType::F16, GgmlType::F32, GgmlType::Q8_0, GgmlType::BF16})
    for (auto [R, W] : {std::pair<int64_t, int64_t>{64, 96}, {512, 576}, {32, 32}})
      for (int64_t valid : {1, 17, 32}) {
        const LatentCache c(t, valid, R, W - R, 16, 5);
        const PagedLatentCache view = c.view();
        std::vector<const uint8_t*> rows;
        for (int64_t i = 0; i < valid; ++i) rows.push_back(latent_row_ptr(view, view.blocks, i));
        // Chunk 1 of a 3-chunk buffer: the stride and offsets are honoured, nothing else written.
        const size_t vgs = 3 * 512;
        std::vector<uint16_t> k_amx(static_cast<size_t>(96 * W), 0xABCD), v_amx(static_cast<size_t>(R / 16) * vgs, 0xABCD);
        auto k_twin = k_amx, v_twin = v_amx;
        amx->pack_latent_bf16(rows.data(), t, valid, R, W, k_amx.data() + 32 * W, v_amx.data() + 512, vgs);
        scalar_table().pack_latent_bf16(rows.data(), t, valid, R, W, k_twin.data() + 32 * W, v_twin.data() + 512, vgs);
        const std::string what = std::string(type_name(t)) + " R " + std::to_string(R) + " valid " + std::to_string(valid);
        EXPECT_EQ(k_amx, k_twin) << what;
        EXPECT_EQ(v_amx, v_twin) << what;
        // A spot check of the layout itself: key i's value d where the contract puts it.
        const int64_t i = valid - 1, d = W - 1;
        EXPECT_EQ(k_twin[32 * W + gemm_packed_index(W, i, d)], f32_to_bf16(c.row(i)[d])) << what;
        EXPECT_EQ(v_twin[512 + static_cast<size_t>((R - 1) / 16) * vgs + gemm_packed_index(32, (R - 1) % 16, i)],
                  f32_to_bf16(c.row(i)[R - 1])) << what;
      }
}

TEST(MlaAttentionDecode, MatchesBf16ReferenceWithEveryTable) {
  const KernelTable twin = twin_table();
  const float scale = 0.13f;
  // Block tables of 32- and 64-row blocks; key counts around the block size (128 keys up to
  // 1024, then up to 8 blocks per query) and past it.
  for (const KernelTable* kt : tile_tables(twin))
    for (int64_t block_rows : {32, 64})
      for (int64_t H : {3, 16, 40}) {  // within one tile of heads, exactly one, across three
        const GgmlType t = GgmlType::BF16;
        Batch b(t, {0, 1, 31, 128, 129, 300, 1100, 2333}, 64, 32, H, 40, block_rows);
        ThreadPool pool(3);
        ASSERT_TRUE(mla_attention_decode_with(*kt, b.cache_view(), b.view(), scale, pool));
        for (size_t i = 0; i < b.n_keys.size(); ++i)
          for (int64_t h = 0; h < H; ++h) {
            const auto row = static_cast<int64_t>(i) * H + h;
            const float* o = b.out.data() + row * b.R;
            const std::string what = std::string(kt->name) + " block rows " + std::to_string(block_rows) +
                                     " heads " + std::to_string(H) +
                                     " keys " + std::to_string(b.n_keys[i]) + " head " + std::to_string(h);
            if (b.n_keys[i] == 0) {
              EXPECT_TRUE(std::all_of(o, o + b.R, [](float v) { return v == 0.0f; })) << what;
              continue;
            }
            testing::expect_bf16_attention(*b.caches[i], b.n_keys[i], b.lat.data() + row * b.R,
                                           b.rope.data() + static_cast<size_t>(row) * b.rope_stride, scale, o,
                                           what.c_str());
            if (HasFatalFailure()) return;
          }
      }
}

// DeepSeek-V2's shape (kv_rank 512, rope 64, 16 heads) at a depth of several blocks, on AMX.
TEST(MlaAttentionDecode, MatchesBf16ReferenceAtV2Shape) {
  const KernelTable* amx = amx_table();
  if (!amx) GTEST_SKIP() << "CPU or OS lacks AMX-TILE/AMX-BF16/AVX512-BF16 (or tile permission)";
  Batch b(GgmlType::BF16, {700}, 512, 64, 16, 60, 64);
  ThreadPool pool(2);
  ASSERT_TRUE(mla_attention_decode_with(*amx, b.cache_view(), b.view(), 0.072f, pool));
  for (int64_t h = 0; h < 16; ++h) {
    testing::expect_bf16_attention(*b.caches[0], 700, b.lat.data() + h * 512,
                                   b.rope.data() + static_cast<size_t>(h) * b.rope_stride, 0.072f,
                                   b.out.data() + h * 512, ("head " + std::to_string(h)).c_str());
    if (HasFatalFailure()) return;
  }
}

// A query's result is the same bits whatever else is in the batch, on any number of threads,
// and however many waves the batch's partial results take.
TEST(MlaAttentionDecode, BatchThreadsAndWavesDoNotChangeResults) {
  const KernelTable twin = twin_table();
  for (const KernelTable* kt : tile_tables(twin)) {
    Batch together(GgmlType::BF16, {260, 5, 0, 129, 64, 1500}, 64, 32, 20, 70, 64);
    Batch alone = together, waves = together;
    ThreadPool one(1), three(3);
    ASSERT_TRUE(mla_attention_decode_with(*kt, together.cache_view(), together.view(), 0.1f, three));
    for (int64_t i = 0; i < 6; ++i)
      ASSERT_TRUE(mla_attention_decode_with(*kt, alone.cache_view(), alone.view(i, 1), 0.1f, one));
    ASSERT_TRUE(mla_attention_decode_with(*kt, waves.cache_view(), waves.view(), 0.1f, three, 1));  // one query per wave
    EXPECT_EQ(together.out, alone.out) << kt->name;
    EXPECT_EQ(together.out, waves.out) << kt->name;
  }
}

// Rows past a sequence's end (a reused block's previous contents) never reach its result, NaN
// included: the same bits as with zeros there.
TEST(MlaAttentionDecode, RowsPastTheEndNeverReachTheResult) {
  const KernelTable twin = twin_table();
  for (const KernelTable* kt : tile_tables(twin))
    for (int32_t n : {45, 64 + 7, 128 + 32 + 2}) {  // odd and even tails, past block boundaries
      Batch clean(GgmlType::BF16, {n}, 64, 32, 16, 90, 64);
      Batch dirty = clean;
      auto cache = std::make_shared<LatentCache>(*clean.caches[0]);
      cache->ptrs.clear();  // the copy's own blocks
      for (auto& blk : cache->blocks) cache->ptrs.push_back(blk.data());
      for (int64_t t = n; t < static_cast<int64_t>(cache->blocks.size()) * 64; ++t) {
        const PagedLatentCache v = cache->view();
        auto* row = reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(latent_row_ptr(v, v.blocks, t)));
        for (int64_t d = 0; d < 96; ++d) row[2 * d] = 0x7fc0;  // bf16 NaN
      }
      dirty.caches[0] = cache;
      dirty.tables[0] = cache->ptrs.data();
      ThreadPool pool(2);
      ASSERT_TRUE(mla_attention_decode_with(*kt, clean.cache_view(), clean.view(), 0.1f, pool));
      ASSERT_TRUE(mla_attention_decode_with(*kt, dirty.cache_view(), dirty.view(), 0.1f, pool));
      EXPECT_EQ(clean.out, dirty.out) << kt->name << " keys " << n;
    }
}

TEST(MlaAttentionDecode, DeclinesWhatItCannotReadInPlaceAndRejectsBadInput) {
  Batch b(GgmlType::BF16, {4, 3}, 64, 32, 2, 80, 32);
  ThreadPool pool(1);
  const KernelTable twin = twin_table();
  EXPECT_FALSE(mla_attention_decode_with(scalar_table(), b.cache_view(), b.view(), 0.1f, pool)) << "no tiles";
  for (GgmlType t : {GgmlType::F16, GgmlType::F32, GgmlType::Q8_0}) {
    PagedLatentCache other = b.cache_view();
    other.type = t;
    EXPECT_FALSE(mla_attention_decode_with(twin, other, b.view(), 0.1f, pool)) << type_name(t);
  }
  PagedLatentCache odd = b.cache_view();
  odd.kv_rank = 48;  // not a multiple of 32
  odd.rope_dim = 48;
  EXPECT_FALSE(mla_attention_decode_with(twin, odd, b.view(), 0.1f, pool));
  PagedLatentCache small_blocks = b.cache_view();
  small_blocks.block_rows = 16;  // not whole 32-row groups
  EXPECT_FALSE(mla_attention_decode_with(twin, small_blocks, b.view(), 0.1f, pool));
  EXPECT_TRUE(std::all_of(b.out.begin(), b.out.end(), [](float v) { return v == -9.0f; })) << "declined but wrote";

  b.n_keys[1] = -1;
  EXPECT_THROW(mla_attention_decode_with(twin, b.cache_view(), b.view(), 0.1f, pool), Error);
  b.n_keys[1] = 3;
  b.tables[1] = nullptr;
  EXPECT_THROW(mla_attention_decode_with(twin, b.cache_view(), b.view(), 0.1f, pool), Error);
}

}  // namespace
}  // namespace whale::kernels
