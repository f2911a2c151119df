// The f32 ops (ops.h) of both tables against double-precision references. Tolerances: element
// -wise ops allow a few f32 roundings (and the polynomial exp of the AVX2 table, < 4 ulp);
// reductions allow n·eps relative to the sum of magnitudes (summation order differs).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "tables.h"

namespace whale::kernels {
namespace {

using testing::random_floats;

std::vector<const KernelTable*> tables() { return testing::all_tables(); }

const std::vector<int64_t> kSizes = {0, 1, 7, 8, 9, 16, 33, 1000};

TEST(Ops, RmsNorm) {
  for (const KernelTable* k : tables())
    for (int64_t n : kSizes) {
      const auto x = random_floats(n, 1 + n, 3.0f), w = random_floats(n, 2 + n);
      std::vector<float> y(n);
      k->rmsnorm(x.data(), w.data(), y.data(), n, 1e-6f);
      double ss = 0;
      for (float v : x) ss += double(v) * v;
      const double inv = 1.0 / std::sqrt(ss / std::max<int64_t>(n, 1) + 1e-6);
      for (int64_t i = 0; i < n; ++i) {
        const double ref = double(w[i]) * x[i] * inv;
        EXPECT_NEAR(y[i], ref, 1e-5 * std::fabs(ref) + 1e-30) << k->name << " n=" << n << " i=" << i;
      }
    }
}

TEST(Ops, RmsNormInPlace) {
  for (const KernelTable* k : tables()) {
    std::vector<float> x = {3, 4}, w = {1, 2};
    k->rmsnorm(x.data(), w.data(), x.data(), 2, 0.0f);
    // rms = sqrt((9+16)/2) = 3.5355339
    EXPECT_NEAR(x[0], 3 / 3.5355339, 1e-6) << k->name;
    EXPECT_NEAR(x[1], 8 / 3.5355339, 1e-6) << k->name;
  }
}

TEST(Ops, Softmax) {
  for (const KernelTable* k : tables())
    for (int64_t n : kSizes) {
      auto x = random_floats(n, 3 + n, 10.0f);
      if (n > 3) x[2] = -std::numeric_limits<float>::infinity();
      if (n > 5) x[5] = 1e4f;  // max subtraction keeps this finite
      const auto in = x;
      k->softmax(x.data(), n);
      double mx = -INFINITY, sum = 0;
      for (float v : in) mx = std::max(mx, double(v));
      for (float v : in) sum += std::exp(double(v) - mx);
      for (int64_t i = 0; i < n; ++i) {
        const double ref = std::exp(double(in[i]) - mx) / sum;
        EXPECT_NEAR(x[i], ref, 2e-6 * ref + 1e-37) << k->name << " n=" << n << " i=" << i;
      }
    }
}

TEST(Ops, SoftmaxAllMinusInfinityGivesZeros) {
  for (const KernelTable* k : tables()) {
    std::vector<float> x(11, -std::numeric_limits<float>::infinity());
    k->softmax(x.data(), 11);
    for (float v : x) EXPECT_EQ(v, 0.0f) << k->name;
  }
}

TEST(Ops, SiluMul) {
  for (const KernelTable* k : tables())
    for (int64_t n : kSizes) {
      auto g = random_floats(n, 4 + n, 6.0f);
      const auto u = random_floats(n, 5 + n);
      if (n > 8) { g[0] = -100.0f; g[1] = 100.0f; g[3] = 0.0f; g[4] = -87.0f; }
      std::vector<float> out(n);
      k->silu_mul(g.data(), u.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double ref = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
        EXPECT_NEAR(out[i], ref, 2e-6 * std::fabs(ref) + 1e-30) << k->name << " g=" << g[i];
      }
    }
}

TEST(Ops, AddScaleAxpyDot) {
  for (const KernelTable* k : tables())
    for (int64_t n : kSizes) {
      const auto a = random_floats(n, 6 + n), b = random_floats(n, 7 + n);
      std::vector<float> out(n);
      k->add(a.data(), b.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] + b[i]);  // one rounding: exact
      out = a;
      k->scale(out.data(), 0.37f, n);
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] * 0.37f);
      out = b;
      k->axpy(-1.5f, a.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double ref = double(b[i]) + -1.5 * a[i];
        EXPECT_NEAR(out[i], ref, 2 * FLT_EPSILON * (std::fabs(b[i]) + 1.5 * std::fabs(a[i])));
      }
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        ref += double(a[i]) * b[i];
        mag += std::fabs(double(a[i]) * b[i]);
      }
      EXPECT_NEAR(k->dot_f32(a.data(), b.data(), n), ref, (n + 2) * FLT_EPSILON * mag + 1e-30)
          << k->name << " n=" << n;
    }
}

TEST(Ops, PublicEntryPointsUseATable) {
  std::vector<float> x = {1, 2, 3}, y = {1, 1, 1};
  EXPECT_EQ(dot_f32(x.data(), y.data(), 3), 6.0f);
  axpy(2.0f, x.data(), y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{3, 5, 7}));
  add(x.data(), y.data(), y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{4, 7, 10}));
  scale(y.data(), 0.5f, 3);
  EXPECT_EQ(y, (std::vector<float>{2, 3.5f, 5}));
  std::vector<float> s = {0, 0};
  softmax(s.data(), 2);
  EXPECT_EQ(s, (std::vector<float>{0.5f, 0.5f}));
}

}  // namespace
}  // namespace whale::kernels
