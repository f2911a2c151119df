#include "tensor/float_convert.h"

#include <gtest/gtest.h>

#include <cmath>

namespace whale {
namespace {

// Every f16 bit pattern decodes to a value that encodes back to the same pattern (NaNs to a
// quiet NaN of the same sign), and decoding agrees with ldexp on the definition (spec §5.1).
TEST(Fp16, RoundTripsAllPatternsAndMatchesDefinition) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_f32(static_cast<uint16_t>(h));
    uint32_t e = (h >> 10) & 31, m = h & 1023;
    double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 31) {
      if (m == 0) ASSERT_TRUE(std::isinf(f));
      else ASSERT_TRUE(std::isnan(f));
      continue;
    }
    double want = e == 0 ? s * std::ldexp(double(m), -24) : s * std::ldexp(1.0 + m / 1024.0, int(e) - 15);
    ASSERT_EQ(double(f), want) << h;
    ASSERT_EQ(f32_to_fp16(f), h) << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_fp16(65504.f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65519.f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65520.f), 0x7C00);
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.f, -25)), 0x0000);          // tie to even (zero)
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_fp16(std::ldexp(3.f, -25)), 0x0002);          // 1.5 ulp ties to even (2)
  EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.f, -11)), 0x3C00);   // halfway 1 and next: even
  EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(3.f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_fp16(std::nanf("")) & 0x7E00, 0x7E00);
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F808000)), 0x3F80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(bf16_to_f32(0x4049), f32_from_bits(0x40490000));
}

TEST(Fp8E4M3, DecodesDefinition) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0xFE), -448.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7F)));
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.f, -6));
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  for (int b = 0; b < 256; ++b) {
    uint32_t e = (b >> 3) & 15, m = b & 7;
    if (e == 15 && m == 7) continue;
    double s = (b & 0x80) ? -1 : 1;
    double want = e == 0 ? s * m * std::ldexp(1.0, -9) : s * (1 + m / 8.0) * std::ldexp(1.0, int(e) - 7);
    ASSERT_EQ(double(fp8_e4m3_to_f32(uint8_t(b))), want) << b;
  }
}

}  // namespace
}  // namespace whale
