// The attention tile kernels of every table (kernel_table.h: attn_scores, attn_accumulate,
// exp_sum, f16_to_f32, q8_0_to_f32) against their scalar twins and against double-precision
// evaluations of their definitions, on awkward shapes: lengths that are not multiples of any
// vector width, every row count of a tile (1..64), every query count up to 16 heads, strides
// larger than the rows. Tolerances come from rounding-error bounds of the sizes involved:
// a sum of n f32 products in any order is within gamma(n) = n*u/(1 - n*u) (u = 2^-24) times
// the sum of the |products| of the exact value, so two implementations differ by at most twice
// that. Cells outside the requested block (stride padding) must keep their sentinel.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "tables.h"
#include "tensor/float_convert.h"

namespace whale::kernels {
namespace {

using testing::random_floats;

constexpr double kUnit = 1.0 / (1 << 24);  // unit roundoff of f32
double gamma_n(int64_t n) { return n * kUnit / (1 - n * kUnit); }

// A sentinel no kernel computes from the test data, compared bitwise. Finite on purpose: a NaN
// would survive being accumulated into (NaN + x keeps the NaN's bits) and hide a stray write.
float sentinel() { return -12345.678f; }
bool is_sentinel(float f) {
  const float s = sentinel();
  return std::memcmp(&f, &s, 4) == 0;
}

// Simd tables only: the scalar one is the reference.
std::vector<const KernelTable*> simd_tables() {
  auto t = testing::all_tables();
  t.erase(t.begin());
  return t;
}

TEST(AttentionTiles, TablesUnderTest) {
  // Not a check: records which tables this CPU let the other tests cover.
  for (const KernelTable* t : testing::all_tables()) std::printf("  table %s\n", t->name);
  SUCCEED();
}

void check_scores(const KernelTable& k, int64_t d, int64_t n_rows, int64_t nq, const float* rows,
                  size_t row_stride, const std::vector<float>& q, size_t q_stride) {
  const size_t s_stride = static_cast<size_t>(n_rows + 3);
  std::vector<float> s(static_cast<size_t>(nq) * s_stride, sentinel()), ref = s;
  scalar_table().attn_scores(rows, row_stride, n_rows, q.data(), q_stride, nq, ref.data(), s_stride, d);
  k.attn_scores(rows, row_stride, n_rows, q.data(), q_stride, nq, s.data(), s_stride, d);
  for (int64_t j = 0; j < nq; ++j)
    for (size_t t = 0; t < s_stride; ++t) {
      const float got = s[j * s_stride + t];
      if (static_cast<int64_t>(t) >= n_rows) {
        ASSERT_TRUE(is_sentinel(got)) << k.name << " wrote s[" << j << "][" << t << "] past n_rows " << n_rows;
        continue;
      }
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < d; ++i) {
        const double v = double(q[j * q_stride + i]) * rows[t * row_stride + i];
        exact += v;
        mag += std::fabs(v);
      }
      const double bound = gamma_n(d) * mag;
      ASSERT_NEAR(got, exact, bound) << k.name << " d " << d << " rows " << n_rows << " nq " << nq << " s[" << j
                                     << "][" << t << "]";
      ASSERT_NEAR(got, ref[j * s_stride + t], 2 * bound)
          << k.name << " vs scalar, d " << d << " rows " << n_rows << " nq " << nq << " s[" << j << "][" << t << "]";
    }
}

void check_accumulate(const KernelTable& k, int64_t d, int64_t n_rows, int64_t np, const float* rows,
                      size_t row_stride, const std::vector<float>& p, size_t p_stride) {
  const size_t out_stride = static_cast<size_t>(d + 5);
  // Non-zero starting outputs: the kernel adds to them. The stride padding holds the sentinel.
  const auto init = random_floats(static_cast<size_t>(np) * out_stride, 77, 0.5f);
  std::vector<float> out(init.size());
  for (size_t x = 0; x < out.size(); ++x) out[x] = x % out_stride < static_cast<size_t>(d) ? init[x] : sentinel();
  std::vector<float> ref = out;
  scalar_table().attn_accumulate(rows, row_stride, n_rows, p.data(), p_stride, np, ref.data(), out_stride, d);
  k.attn_accumulate(rows, row_stride, n_rows, p.data(), p_stride, np, out.data(), out_stride, d);
  for (int64_t j = 0; j < np; ++j)
    for (size_t i = 0; i < out_stride; ++i) {
      const float got = out[j * out_stride + i];
      if (static_cast<int64_t>(i) >= d) {
        ASSERT_TRUE(is_sentinel(got)) << k.name << " wrote out[" << j << "][" << i << "] past d " << d;
        continue;
      }
      double exact = init[j * out_stride + i], mag = std::fabs(exact);
      for (int64_t t = 0; t < n_rows; ++t) {
        const double v = double(p[j * p_stride + t]) * rows[t * row_stride + i];
        exact += v;
        mag += std::fabs(v);
      }
      const double bound = gamma_n(n_rows + 1) * mag;
      ASSERT_NEAR(got, exact, bound) << k.name << " d " << d << " rows " << n_rows << " np " << np << " out[" << j
                                     << "][" << i << "]";
      ASSERT_NEAR(got, ref[j * out_stride + i], 2 * bound)
          << k.name << " vs scalar, d " << d << " rows " << n_rows << " np " << np << " out[" << j << "][" << i << "]";
    }
}

// Shapes: d around every vector width (8, 16, 64 columns per block) and the real MLA widths
// (512 latent, 576 latent + rope); all row counts of a 64-row tile for some widths, a spread
// of them for the rest; every query count 1..16.
std::vector<int64_t> row_counts(int64_t d) {
  if (d == 17 || d == 576 || d == 512) {
    std::vector<int64_t> all;
    for (int64_t n = 1; n <= 64; ++n) all.push_back(n);
    return all;
  }
  return {1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 63, 64};
}
const std::vector<int64_t> kWidths = {1, 3, 8, 15, 16, 17, 33, 47, 63, 64, 65, 100, 130, 512, 576};

// Where the rows of a tile start (in a buffer with room for 64 rows of either layout): layout 0,
// a stride that is not a multiple of 16 floats (d + pad: rows differently aligned); layout 1, a
// stride of whole 64-byte lines with row 0 4 bytes past a line (the SIMD kernels may split off
// an unaligned head then).
struct RowLayout {
  size_t stride;
  size_t offset;  // floats from the start of the buffer to row 0
};
RowLayout row_layout(int layout, int64_t d, const float* buffer_start, size_t pad) {
  if (layout == 0) return {static_cast<size_t>(d) + pad, 0};
  const auto addr = reinterpret_cast<uintptr_t>(buffer_start);
  return {static_cast<size_t>((d + 15) / 16 * 16 + 16), (64 - addr % 64) % 64 / sizeof(float) + 1};
}

TEST(AttentionTiles, ScoresMatchScalarTwinAndExactValue) {
  for (const KernelTable* k : simd_tables())
    for (int layout = 0; layout < 2; ++layout)
      for (int64_t d : kWidths) {
        const auto rows = random_floats(64 * static_cast<size_t>(d + 48) + 32, static_cast<uint32_t>(d), 1.0f);
        const RowLayout lay = row_layout(layout, d, rows.data(), 3);
        const size_t q_stride = static_cast<size_t>(d + 7);
        const auto q = random_floats(15 * q_stride + d, static_cast<uint32_t>(d + 1000), 0.3f);
        for (int64_t n_rows : row_counts(d))
          for (int64_t nq = 1; nq <= 16; ++nq) {
            check_scores(*k, d, n_rows, nq, rows.data() + lay.offset, lay.stride, q, q_stride);
            if (::testing::Test::HasFatalFailure()) return;
          }
      }
}

TEST(AttentionTiles, AccumulateMatchesScalarTwinAndExactValue) {
  for (const KernelTable* k : simd_tables())
    for (int layout = 0; layout < 2; ++layout)
      for (int64_t d : kWidths) {
        const auto rows = random_floats(64 * static_cast<size_t>(d + 48) + 32, static_cast<uint32_t>(d + 2000), 1.0f);
        const RowLayout lay = row_layout(layout, d, rows.data(), 9);
        const size_t p_stride = 67;
        // Softmax weights are in [0, 1]; signed ones exercise cancellation as well.
        const auto p = random_floats(15 * p_stride + 64, static_cast<uint32_t>(d + 3000), 0.5f);
        for (int64_t n_rows : row_counts(d))
          for (int64_t np = 1; np <= 16; ++np) {
            check_accumulate(*k, d, n_rows, np, rows.data() + lay.offset, lay.stride, p, p_stride);
            if (::testing::Test::HasFatalFailure()) return;
          }
      }
}

// The model relies on the same inputs giving the same bits wherever they sit (prefill vs
// decode, a batch vs each sequence alone, two views of the same weights): a score must not
// depend on the buffer's alignment, on the row's place in the tile or on how many queries
// share the call, and a weighted sum must not depend on the alignment either.
TEST(AttentionTiles, ResultsDoNotDependOnAddressOrPosition) {
  const int64_t d = 576, R = 512;
  const size_t stride = 576;  // whole 64-byte lines: every row shares the buffer's alignment
  const auto base = random_floats(64 * stride + 16, 5, 1.0f);
  const auto q = random_floats(16 * stride, 6, 0.3f);
  const auto p = random_floats(16 * 64, 7, 0.5f);
  for (const KernelTable* k : testing::all_tables()) {
    std::vector<float> first_s, first_out;
    for (size_t off = 0; off < 16; off += 3) {
      std::vector<float> buf(base.size() + 16);
      float* rows = buf.data() + off;
      std::copy(base.begin(), base.begin() + 64 * stride, rows);
      std::vector<float> s(16 * 64), out(16 * R, 0.25f);
      k->attn_scores(rows, stride, 64, q.data(), stride, 16, s.data(), 64, d);
      k->attn_accumulate(rows, stride, 64, p.data(), 64, 16, out.data(), R, R);
      if (off == 0) {
        first_s = s, first_out = out;
        // Position: row 5 alone, query 3 alone, give the bits they got inside the full block.
        float one = 0;
        k->attn_scores(rows + 5 * stride, stride, 1, q.data() + 3 * stride, stride, 1, &one, 1, d);
        ASSERT_EQ(std::memcmp(&one, &s[3 * 64 + 5], 4), 0) << k->name << ": " << one << " vs " << s[3 * 64 + 5];
        continue;
      }
      ASSERT_EQ(std::memcmp(s.data(), first_s.data(), s.size() * 4), 0) << k->name << " scores, offset " << off;
      ASSERT_EQ(std::memcmp(out.data(), first_out.data(), out.size() * 4), 0) << k->name << " sums, offset " << off;
    }
  }
}

TEST(AttentionTiles, EmptyBlocksWriteNothing) {
  const std::vector<float> rows(64, 1.0f), q(64, 1.0f);
  for (const KernelTable* k : testing::all_tables()) {
    std::vector<float> s(64, sentinel()), out(64, sentinel());
    k->attn_scores(rows.data(), 16, 0, q.data(), 16, 4, s.data(), 16, 16);
    k->attn_scores(rows.data(), 16, 4, q.data(), 16, 0, s.data(), 16, 16);
    k->attn_accumulate(rows.data(), 16, 4, q.data(), 16, 0, out.data(), 16, 16);
    k->attn_accumulate(rows.data(), 16, 4, q.data(), 16, 4, out.data(), 16, 0);
    for (float v : s) ASSERT_TRUE(is_sentinel(v)) << k->name;
    for (float v : out) ASSERT_TRUE(is_sentinel(v)) << k->name;
  }
}

// exp_sum: each x[i] = exp(x[i] - shift) within the error bound of the exp method both SIMD
// tables use (|r| <= ln2/2 after reduction, degree-7 Taylor polynomial by FMA Horner steps):
// truncation 6e-9 (0.1u) + Horner roundings u(1 + |r| + r^2/2 + ...) < 1.5u + reduction 0.2u,
// so under 2u; 3u leaves margin yet fails a degree-6 polynomial (truncation alone 2u). Plus an
// absolute 2*FLT_MIN for arguments near the bottom of the f32 range, where the AVX2 exp flushes
// to 0 below -87.3 (e^-87.3 < 2*FLT_MIN, nothing a softmax weight can notice). The returned sum
// is within the per-element errors plus gamma(n) of the summation.
TEST(AttentionTiles, ExpSumMatchesStdExp) {
  const double rel = 3 * kUnit, abs_floor = 2.0 * FLT_MIN;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> arg(-110.0f, 4.0f);
  for (const KernelTable* k : testing::all_tables())
    for (int64_t n : {1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 100000}) {
      const float shift = 3.25f;
      std::vector<float> x(static_cast<size_t>(n) + 1, sentinel());
      for (int64_t i = 0; i < n; ++i) x[i] = shift + arg(rng);
      // Special arguments: the max itself (e^0 = 1), -inf (a masked score), deep underflow.
      x[0] = shift;
      if (n > 3) x[3] = -std::numeric_limits<float>::infinity();
      if (n > 5) x[5] = shift - 200.0f;
      const std::vector<float> in = x;
      const float sum = k->exp_sum(x.data(), shift, n);
      ASSERT_TRUE(is_sentinel(x[n])) << k->name << " wrote past n " << n;
      double exact_sum = 0, err = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double e = std::exp(double(in[i] - shift));  // the kernel subtracts in f32 too
        const double tol = rel * e + abs_floor;
        ASSERT_NEAR(x[i], e, tol) << k->name << " n " << n << " x[" << i << "] - shift = " << in[i] - shift;
        exact_sum += e;
        err += tol;
      }
      ASSERT_NEAR(sum, exact_sum, err + gamma_n(n) * exact_sum) << k->name << " n " << n;
      // And against the scalar twin: both within the bounds above of the same exact values.
      std::vector<float> y = in;
      const float ref_sum = scalar_table().exp_sum(y.data(), shift, n);
      ASSERT_NEAR(sum, ref_sum, 2 * (err + gamma_n(n) * exact_sum)) << k->name << " vs scalar, n " << n;
    }
}

TEST(AttentionTiles, ExpSumOverflowGivesInfinity) {
  for (const KernelTable* k : testing::all_tables()) {
    std::vector<float> x(20, 0.0f);
    x[7] = 100.0f;  // e^100 > FLT_MAX
    const float sum = k->exp_sum(x.data(), 0.0f, 20);
    EXPECT_TRUE(std::isinf(x[7]) && x[7] > 0) << k->name;
    EXPECT_TRUE(std::isinf(sum) && sum > 0) << k->name;
    EXPECT_EQ(x[0], 1.0f) << k->name;
  }
}

// Widening is exact: f16 -> f32 for every one of the 65536 bit patterns (NaNs stay NaN),
// starting at odd offsets and with lengths that end mid-vector.
TEST(AttentionTiles, F16ToF32IsExactForEveryPattern) {
  std::vector<uint16_t> all(65536 + 40);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);  // odd: a permutation
  for (const KernelTable* k : testing::all_tables())
    for (int64_t off : {0, 1, 7})
      for (int64_t n : {int64_t{1}, int64_t{15}, int64_t{17}, int64_t{31}, int64_t{33}, int64_t{576}, int64_t{65536}})
        for (size_t yoff : {1, 2, 9}) {  // destinations at different alignments, a sentinel before
          std::vector<float> buf(static_cast<size_t>(n) + yoff + 1, sentinel());
          float* y = buf.data() + yoff;
          k->f16_to_f32(all.data() + off, y, n);
          ASSERT_TRUE(is_sentinel(y[-1]) && is_sentinel(y[n])) << k->name << " wrote outside n " << n;
          for (int64_t i = 0; i < n; ++i) {
            const float want = fp16_to_f32(all[off + i]);
            if (std::isnan(want)) {
              ASSERT_TRUE(std::isnan(y[i])) << k->name << " f16 0x" << std::hex << all[off + i];
            } else {
              ASSERT_EQ(std::memcmp(&y[i], &want, 4), 0)
                  << k->name << " f16 0x" << std::hex << all[off + i] << " gave " << y[i] << " want " << want;
            }
          }
        }
}

// Q8_0 widening: q * d is exact in f32 (8-bit times 11-bit significands), so every table must
// give the reference dequantisation bit for bit: random bytes (all of -128..127), random finite
// scales including subnormal ones, row lengths of 1..18 blocks (576 = 18 blocks).
TEST(AttentionTiles, Q8_0ToF32IsExact) {
  std::mt19937 rng(3);
  for (const KernelTable* k : testing::all_tables())
    for (int64_t blocks : {1, 2, 3, 5, 16, 17, 18}) {
      const int64_t n = 32 * blocks;
      std::vector<uint8_t> raw(static_cast<size_t>(34 * blocks));
      for (auto& b : raw) b = static_cast<uint8_t>(rng());
      for (int64_t b = 0; b < blocks; ++b) {
        // Finite f16 scales: exponent field below 31; every third one subnormal.
        uint16_t h = static_cast<uint16_t>(rng() & 0xFFFF);
        if ((h >> 10 & 31) == 31) h &= 0xBFFF;
        if (b % 3 == 2) h &= 0x83FF;
        std::memcpy(raw.data() + 34 * b, &h, 2);
      }
      std::vector<float> y(static_cast<size_t>(n) + 1, sentinel()), want(static_cast<size_t>(n));
      dequantize_row(GgmlType::Q8_0, raw.data(), want.data(), n);
      k->q8_0_to_f32(raw.data(), y.data(), n);
      ASSERT_TRUE(is_sentinel(y[n])) << k->name;
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(std::memcmp(&y[i], &want[i], 4), 0) << k->name << " block " << i / 32 << " elem " << i % 32
                                                       << ": " << y[i] << " want " << want[i];
    }
}

}  // namespace
}  // namespace whale::kernels
