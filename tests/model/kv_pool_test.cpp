// The KV pool's storage types: every row of every slot reads back what was stored, rounded the
// way its type rounds (the BF16 pair layout interleaves two slots, so neighbours must not
// clobber each other), blocks start on cache lines, and type names parse.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "model/kv_cache.h"
#include "tensor/float_convert.h"
#include "util/error.h"

namespace whale::model {
namespace {

float value(int block, int layer, int slot, int i) {
  return std::sin(0.37f * static_cast<float>(i + 1) + 1.3f * static_cast<float>(slot) + 7.1f * static_cast<float>(layer) +
                  19.0f * static_cast<float>(block)) * static_cast<float>(1 + i % 5);
}

TEST(KvPool, EveryTypeReadsBackWhatWasStoredInEverySlot) {
  const KvLayout layout{3, 96};
  for (KvType t : {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0}) {
    SCOPED_TRACE(std::string(kv_type_name(t)));
    KvPool pool(layout, t, 2);
    std::vector<float> row(96), back(96);
    for (int b = 0; b < 2; ++b)
      for (int l = 0; l < 3; ++l)
        for (int s = 0; s < KvPool::kBlockTokens; ++s) {
          for (int i = 0; i < 96; ++i) row[i] = value(b, l, s, i);
          pool.store_row(b, l, s, row.data());
        }
    for (int b = 0; b < 2; ++b)
      for (int l = 0; l < 3; ++l)
        for (int s = 0; s < KvPool::kBlockTokens; ++s) {
          pool.load_row(b, l, s, back.data());
          for (int i = 0; i < 96; ++i) {
            const float v = value(b, l, s, i);
            // Q8_0: within half a step of its block's scale d = amax/127 (amax <= 5 here), plus up
            // to 127 steps of the scale's own f16 rounding (2^-11 relative): amax/254 + amax·2^-11.
            const float want = t == KvType::F16 ? fp16_to_f32(f32_to_fp16(v)) : t == KvType::BF16 ? bf16_to_f32(f32_to_bf16(v)) : v;
            if (t == KvType::Q8_0) ASSERT_NEAR(back[i], v, 5.0f / 254 + 5.0f / 2048) << b << "/" << l << "/" << s << "/" << i;
            else ASSERT_EQ(back[i], want) << b << "/" << l << "/" << s << "/" << i;
          }
        }
    if (t == KvType::BF16 || t == KvType::F16) {
      EXPECT_EQ(pool.bytes_per_token(), 3u * 96 * 2);
    }
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.row(1, 2, 0)) % 64, 0u) << "blocks start on cache lines";
  }
}

TEST(KvPool, TypeNamesParseAndUnknownOnesAreErrors) {
  for (KvType t : {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0}) EXPECT_EQ(parse_kv_type(kv_type_name(t)), t);
  EXPECT_THROW(parse_kv_type("q4_0"), Error);
  EXPECT_THROW(parse_kv_type(""), Error);
}

}  // namespace
}  // namespace whale::model
