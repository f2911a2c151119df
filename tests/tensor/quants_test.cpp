// Quantisers and dequantisers against spec gguf-and-quants.md: the §6 FNV-1a-64 table (bytes
// produced by llama.cpp's reference quantisers and their decoded values), the debugging hex of
// the first blocks, the §3 edge cases stated in the spec, and round-trip properties.
#include "tensor/quants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/conformance_input.h"
#include "tensor/float_convert.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_rows.h"
#include "util/error.h"

namespace whale {
namespace {

using testing::conformance_input;
using testing::fnv1a64;
using testing::kConformanceCols;
using testing::kConformanceRows;

std::vector<uint8_t> quantize_matrix(GgmlType t, const std::vector<float>& x, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(x.size()) / cols;
  std::vector<uint8_t> out(row_bytes(t, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(quantize_row(t, x.data() + r * cols, out.data() + r * row_bytes(t, cols), cols),
              row_bytes(t, cols));
  return out;
}

std::vector<float> dequantize_matrix(GgmlType t, const std::vector<uint8_t>& q, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(q.size() / row_bytes(t, cols));
  std::vector<float> out(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(t, q.data() + r * row_bytes(t, cols), out.data() + r * cols, cols);
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

TEST(ConformanceInput, HashMatchesSpec) {
  const auto x = conformance_input();
  ASSERT_EQ(x.size(), 64u * 256u);
  EXPECT_EQ(fnv1a64(x.data(), x.size() * 4), 0x0dd9bf377c187178ull);
}

struct HashCase {
  GgmlType type;
  size_t bytes;
  uint64_t quantised;
  uint64_t dequantised;
};

// Spec §6 table.
const HashCase kHashCases[] = {
    {GgmlType::Q4_0, 9216, 0x2c761e74a6a65615ull, 0xc4d1e34993613df9ull},
    {GgmlType::Q4_1, 10240, 0x60d61d5bd8628613ull, 0xb58962b7cc7d0bb7ull},
    {GgmlType::Q5_0, 11264, 0x1c347753341a4048ull, 0x52d7852316544487ull},
    {GgmlType::Q5_1, 12288, 0x396740834b6b7efbull, 0x8ace32ffa4d99cecull},
    {GgmlType::Q8_0, 17408, 0xe558ff7af797b678ull, 0xae239d5985448a95ull},
    {GgmlType::Q2_K, 5376, 0x5047ab0c145fbfd5ull, 0xe81ef803b5afb76bull},
    {GgmlType::Q3_K, 7040, 0xb0d32f23f8e59039ull, 0x4dde1c0e1505298eull},
    {GgmlType::Q4_K, 9216, 0x1622eba59c51a747ull, 0x788cd1a9be44bd80ull},
    {GgmlType::Q5_K, 11264, 0xce5f34f319f44705ull, 0x032b9ba4ce626d39ull},
    {GgmlType::Q6_K, 13440, 0xc7e75aa5d243e7feull, 0xf6b3de1c1fd47a0bull},
    {GgmlType::IQ4_NL, 9216, 0x2a966a0d1bc43bbfull, 0x67c680eec1e0c3d2ull},
    {GgmlType::IQ4_XS, 8704, 0xf8dac7a0e1d870feull, 0x3b615583bc62386cull},
    {GgmlType::F16, 32768, 0xb255d7a0b6f74f4bull, 0xd5ed4c4b15b94bb0ull},
    {GgmlType::BF16, 32768, 0x330fa6bcb38415b8ull, 0x907ba599f6081018ull},
};

void PrintTo(const HashCase& c, std::ostream* os) { *os << type_name(c.type); }

class SpecHashes : public ::testing::TestWithParam<HashCase> {};

TEST_P(SpecHashes, QuantisedAndDequantisedBytesMatchTable) {
  const HashCase& c = GetParam();
  const auto x = conformance_input();
  const auto q = quantize_matrix(c.type, x, kConformanceCols);
  ASSERT_EQ(q.size(), c.bytes);
  char want[17], got[17];
  std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(c.quantised));
  std::snprintf(got, sizeof got, "%016llx",
                static_cast<unsigned long long>(fnv1a64(q.data(), q.size())));
  EXPECT_STREQ(got, want) << type_name(c.type) << " quantised bytes";
  const auto y = dequantize_matrix(c.type, q, kConformanceCols);
  std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(c.dequantised));
  std::snprintf(got, sizeof got, "%016llx",
                static_cast<unsigned long long>(fnv1a64(y.data(), y.size() * 4)));
  EXPECT_STREQ(got, want) << type_name(c.type) << " dequantised values";
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SpecHashes, ::testing::ValuesIn(kHashCases),
                         [](const ::testing::TestParamInfo<HashCase>& info) {
                           return std::string(type_name(info.param.type));
                         });

TEST(SpecHex, FirstBlockOfRowZero) {
  const auto x = conformance_input();
  BlockQ4_0 q40;
  quantize_row(GgmlType::Q4_0, x.data(), &q40, 32);
  EXPECT_EQ(hex(reinterpret_cast<uint8_t*>(&q40), sizeof q40),
            "00bc28982f9e89d6100f3e1bd76c79a73d81");
  BlockQ8_0 q80;
  quantize_row(GgmlType::Q8_0, x.data(), &q80, 32);
  EXPECT_EQ(hex(reinterpret_cast<uint8_t*>(&q80), sizeof q80),
            "082c05048ca3e91d7e8d99c90abff713b47565f667f4feab6b7f496cae2717db4f02");
  BlockQ4K q4k;
  quantize_row(GgmlType::Q4_K, x.data(), &q4k, 256);
  EXPECT_EQ(hex(reinterpret_cast<uint8_t*>(&q4k), sizeof q4k),
            "1e241f30fefdfafbf8fafbff3c9c9ddff8c710718649dfd07104282317a8624ffe37de361742febffc2e"
            "026ae9653ca7d35e4ef5c5db7aff5643a04c6f16c57ff5c3306692973f94e5aa02718ae1e67ad5ba1280"
            "9e6dc66391de0f8fbdad46bd89d111ee2439a99010a1ee9ec04dc1095d0e53234a3277f95b8e35966e91"
            "1e1b6bb313456daebe17fad017033c1dc2de");
}

// §3.2 / §3.8: what an all-zero block must look like.
TEST(ZeroBlocks, MatchSpecEdgeCases) {
  const std::vector<float> zeros(256, 0.0f);
  BlockQ4_0 q40[8];
  quantize_row(GgmlType::Q4_0, zeros.data(), q40, 256);
  EXPECT_EQ(q40[0].d, 0x8000);
  for (uint8_t b : q40[0].qs) EXPECT_EQ(b, 0x88);
  BlockQ5_0 q50;
  quantize_row(GgmlType::Q5_0, zeros.data(), &q50, 32);
  EXPECT_EQ(q50.d, 0x8000);
  uint32_t qh;
  std::memcpy(&qh, q50.qh, 4);
  EXPECT_EQ(qh, 0xFFFFFFFFu);
  for (uint8_t b : q50.qs) EXPECT_EQ(b, 0x00);
  BlockIQ4XS xs;
  quantize_row(GgmlType::IQ4_XS, zeros.data(), &xs, 256);
  EXPECT_EQ(xs.d, 0x8000);
  BlockIQ4NL nl;
  quantize_row(GgmlType::IQ4_NL, zeros.data(), &nl, 32);
  EXPECT_EQ(nl.d, 0x0000);
  for (uint8_t b : nl.qs) EXPECT_EQ(b, 0x88);
  BlockQ8K q8k;
  std::memset(&q8k, 0x5A, sizeof q8k);
  quantize_row(GgmlType::Q8_K, zeros.data(), &q8k, 256);
  EXPECT_EQ(q8k.d, 0.0f);
  for (int16_t s : q8k.bsums) EXPECT_EQ(s, 0);
  BlockQ6K q6k;
  std::memset(&q6k, 0x5A, sizeof q6k);
  quantize_row(GgmlType::Q6_K, zeros.data(), &q6k, 256);
  for (size_t i = 0; i < sizeof q6k; ++i) EXPECT_EQ(reinterpret_cast<uint8_t*>(&q6k)[i], 0);
  // Every format decodes an all-zero input back to zeros.
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                     GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K, GgmlType::Q3_K,
                     GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                     GgmlType::IQ4_XS, GgmlType::F16, GgmlType::BF16}) {
    const auto y = dequantize_matrix(t, quantize_matrix(t, zeros, 256), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << type_name(t);
  }
}

// Degenerate but finite inputs (subnormal scales whose reciprocal overflows, sums that overflow
// to inf) are undefined behaviour in the reference; whale must still produce bytes without
// crashing, and decode them to finite or non-finite values without faulting.
TEST(DegenerateBlocks, SubnormalAndHugeInputsDoNotCrash) {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                            GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K, GgmlType::Q3_K,
                            GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                            GgmlType::IQ4_NL, GgmlType::IQ4_XS};
  for (float scale : {1e-39f, 1e-45f, 3e38f}) {
    std::vector<float> x(256);
    for (int i = 0; i < 256; ++i) x[i] = scale * (static_cast<float>(i % 7 - 3) / 3.0f);
    for (GgmlType t : types) {
      std::vector<uint8_t> q(row_bytes(t, 256));
      ASSERT_EQ(quantize_row(t, x.data(), q.data(), 256), q.size()) << type_name(t);
      std::vector<float> y(256);
      dequantize_row(t, q.data(), y.data(), 256);
    }
  }
}

// Values on a format's grid with an exactly representable scale come back unchanged.
TEST(RoundTrip, GridValuesAreExact) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 2 ? -127 + j : 127 - 3 * j);
  x[0] = 127.0f;
  BlockQ8_0 q8;
  quantize_row(GgmlType::Q8_0, x.data(), &q8, 32);
  EXPECT_EQ(fp16_to_f32(q8.d), 1.0f);
  std::vector<float> y(32);
  dequantize_row(GgmlType::Q8_0, &q8, y.data(), 32);
  EXPECT_EQ(x, y);

  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 8);  // -8 is the max magnitude
  BlockQ4_0 q4;
  quantize_row(GgmlType::Q4_0, x.data(), &q4, 32);
  EXPECT_EQ(fp16_to_f32(q4.d), 1.0f);
  dequantize_row(GgmlType::Q4_0, &q4, y.data(), 32);
  EXPECT_EQ(x, y);

  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 32 - 16);
  BlockQ5_0 q5;
  quantize_row(GgmlType::Q5_0, x.data(), &q5, 32);
  dequantize_row(GgmlType::Q5_0, &q5, y.data(), 32);
  EXPECT_EQ(x, y);

  for (int j = 0; j < 32; ++j) x[j] = 2.0f * static_cast<float>(kIQ4NLValues[j % 16]);
  BlockIQ4NL nl;
  quantize_row(GgmlType::IQ4_NL, x.data(), &nl, 32);
  dequantize_row(GgmlType::IQ4_NL, &nl, y.data(), 32);
  EXPECT_EQ(x, y);
}

// Relative RMS error of quantise→dequantise on Gaussian data stays within what each format's
// bit budget allows (loose bounds: ~2x the typical values for these formats).
TEST(RoundTrip, GaussianErrorIsBoundedPerFormat) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(256 * 64);
  for (auto& v : x) v = dist(rng);
  const struct {
    GgmlType t;
    double max_rel_rmse;
  } cases[] = {
      {GgmlType::Q8_0, 0.01}, {GgmlType::Q8_1, 0.01}, {GgmlType::Q8_K, 0.01},
      {GgmlType::Q6_K, 0.03}, {GgmlType::Q5_0, 0.07}, {GgmlType::Q5_1, 0.07},
      {GgmlType::Q5_K, 0.06}, {GgmlType::Q4_0, 0.14}, {GgmlType::Q4_1, 0.14},
      {GgmlType::Q4_K, 0.12}, {GgmlType::IQ4_NL, 0.12}, {GgmlType::IQ4_XS, 0.12},
      {GgmlType::Q3_K, 0.30}, {GgmlType::Q2_K, 0.50}, {GgmlType::F16, 0.001},
      {GgmlType::BF16, 0.005},
  };
  double sum_x2 = 0;
  for (float v : x) sum_x2 += double(v) * v;
  for (const auto& c : cases) {
    const auto y = dequantize_matrix(c.t, quantize_matrix(c.t, x, 256), 256);
    double sum_e2 = 0;
    for (size_t i = 0; i < x.size(); ++i) sum_e2 += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
    EXPECT_LT(std::sqrt(sum_e2 / sum_x2), c.max_rel_rmse) << type_name(c.t);
  }
}

// Q8_K: bsums are the sums of 16 qs, the largest-magnitude value maps to -127 (§3.7).
TEST(ActivationFormats, Q8KAndQ8_1Auxiliaries) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> x(256);
  for (auto& v : x) v = dist(rng);
  x[100] = 5.0f;
  BlockQ8K k;
  quantize_row(GgmlType::Q8_K, x.data(), &k, 256);
  EXPECT_EQ(k.qs[100], -127);
  EXPECT_LT(k.d, 0.0f);
  for (int b = 0; b < 16; ++b) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += k.qs[16 * b + j];
    EXPECT_EQ(k.bsums[b], s);
  }
  BlockQ8_1 q[8];
  quantize_row(GgmlType::Q8_1, x.data(), q, 256);
  for (int i = 0; i < 8; ++i) {
    int s = 0;
    for (int8_t v : q[i].qs) s += v;
    float amax = 0;  // recompute the unrounded d of §3.1
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * i + j]));
    EXPECT_EQ(q[i].s, f32_to_fp16(static_cast<float>(s) * (amax / 127.0f))) << i;
  }
}

// Decoders on hand-built blocks, following the §2.4 layout tables element by element.
TEST(Decoders, KQuantLayoutsFollowSpec) {
  BlockQ4K b{};
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  // sc[j] = 10 + j*7 (up to 59), mn[j] = 3 + j*8 (up to 59): exercises the high bits.
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(10 + 7 * j);
    mn[j] = static_cast<uint8_t>(3 + 8 * j);
  }
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>(i * 37 + 11);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, b.scales, &s, &m);
    EXPECT_EQ(s, sc[j]);
    EXPECT_EQ(m, mn[j]);
  }
  float y[256];
  dequantize_row(GgmlType::Q4_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, c = e / 64, l = e % 32;
    const int q = j % 2 ? b.qs[32 * c + l] >> 4 : b.qs[32 * c + l] & 15;
    EXPECT_EQ(y[e], 0.5f * sc[j] * q - 0.25f * mn[j]) << e;
  }

  BlockQ6K q6{};
  q6.d = f32_to_fp16(0.125f);
  for (int i = 0; i < 128; ++i) q6.ql[i] = static_cast<uint8_t>(i * 91 + 5);
  for (int i = 0; i < 64; ++i) q6.qh[i] = static_cast<uint8_t>(i * 53 + 17);
  for (int i = 0; i < 16; ++i) q6.scales[i] = static_cast<int8_t>(i * 17 - 128);
  dequantize_row(GgmlType::Q6_K, &q6, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128, l = r % 32, g = r / 32;
    const uint8_t lo = q6.ql[64 * h + l + 32 * (g & 1)];
    const int q = ((g < 2 ? lo & 15 : lo >> 4) | (((q6.qh[32 * h + l] >> (2 * g)) & 3) << 4)) - 32;
    EXPECT_EQ(y[e], 0.125f * q6.scales[e / 16] * q) << e;
  }

  BlockQ3K q3{};
  q3.d = f32_to_fp16(2.0f);
  int s6[16];
  for (int s = 0; s < 16; ++s) s6[s] = (s * 29 + 3) & 63;
  for (int s = 0; s < 16; ++s) {
    if (s < 8) q3.scales[s] |= static_cast<uint8_t>(s6[s] & 15);
    else q3.scales[s - 8] |= static_cast<uint8_t>((s6[s] & 15) << 4);
    q3.scales[8 + s % 4] |= static_cast<uint8_t>((s6[s] >> 4) << (2 * (s / 4)));
  }
  for (int i = 0; i < 64; ++i) q3.qs[i] = static_cast<uint8_t>(i * 71 + 9);
  for (int i = 0; i < 32; ++i) q3.hmask[i] = static_cast<uint8_t>(i * 113 + 1);
  dequantize_row(GgmlType::Q3_K, &q3, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int low = (q3.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    const bool hb = (q3.hmask[e % 32] >> (e / 32)) & 1;
    EXPECT_EQ(y[e], 2.0f * (s6[e / 16] - 32) * (low - (hb ? 0 : 4))) << e;
  }
}

TEST(Fp8, AllBytesDecodeByDefinition) {
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    float y;
    dequantize_row(GgmlType::F8_E4M3, &byte, &y, 1);
    const int E = (b >> 3) & 15, M = b & 7;
    const double sign = (b & 0x80) ? -1.0 : 1.0;
    if (E == 15 && M == 7) {
      EXPECT_TRUE(std::isnan(y)) << b;
      continue;
    }
    const double want = E == 0 ? sign * std::ldexp(double(M), -9)
                               : sign * std::ldexp(1.0 + M / 8.0, E - 7);
    EXPECT_EQ(double(y), want) << b;
    EXPECT_EQ(std::signbit(y), (b & 0x80) != 0) << b;
  }
}

TEST(Fp8, BlockScaledUsesPartialEdgeBlocks) {
  const int rows = 5, cols = 7, block = 4;  // scale grid 2 x 2, partial on both edges
  std::vector<uint8_t> w(rows * cols);
  for (int i = 0; i < rows * cols; ++i) w[i] = static_cast<uint8_t>((i * 13) % 0x7E);
  const float scale[4] = {0.5f, 2.0f, -1.0f, 3.0f};
  std::vector<float> out(rows * cols);
  dequantize_fp8_block_scaled(w.data(), scale, rows, cols, out.data(), block);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      EXPECT_EQ(out[i * cols + j], fp8_e4m3_to_f32(w[i * cols + j]) * scale[(i / 4) * 2 + j / 4]);
}

TEST(Errors, BadCountsTypesAndValuesThrow) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> buf(1024);
  EXPECT_THROW(quantize_row(GgmlType::Q4_0, x.data(), buf.data(), 33), Error);
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, x.data(), buf.data(), 64), Error);
  EXPECT_THROW(quantize_row(GgmlType::IQ2_XXS, x.data(), buf.data(), 256), Error);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XXS, buf.data(), x.data(), 256), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, buf.data(), x.data(), -32), Error);
  EXPECT_THROW(dequantize_row(static_cast<GgmlType>(77), buf.data(), x.data(), 32), Error);
  try {
    quantize_row(GgmlType::Q5_K, x.data(), buf.data(), 100);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("100"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Q5_K"), std::string::npos) << e.what();
  }
  x[5] = std::nanf("");
  EXPECT_EQ(quantize_row(GgmlType::Q4_K, x.data(), buf.data(), 0), 0u);  // empty is fine
  EXPECT_THROW(quantize_row(GgmlType::Q8_0, x.data(), buf.data(), 32), Error);
  x[5] = INFINITY;
  EXPECT_THROW(quantize_row(GgmlType::Q6_K, x.data(), buf.data(), 256), Error);
  EXPECT_EQ(quantize_row(GgmlType::F16, x.data(), buf.data(), 32), 64u);  // inf is encodable
  EXPECT_FALSE(can_quantize(GgmlType::IQ2_XXS));
  EXPECT_TRUE(can_quantize(GgmlType::Q4_K));
}

}  // namespace
}  // namespace whale
