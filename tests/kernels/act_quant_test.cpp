// The activation quantisers of every table produce exactly the bytes of the tensor layer's
// reference quantisers (spec §3.1, §3.7), including rounding ties, sign of the largest
// magnitude, all-zero blocks and the ±127 clamp. This is what makes the integer sums of the
// SIMD dot products equal to the scalar twin's.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"
#include "tables.h"

namespace whale::kernels {
namespace {

// Random values plus blocks built to hit the corner cases.
std::vector<float> tricky_input(int64_t n, uint32_t seed) {
  auto x = testing::random_floats(n, seed, 2.0f);
  for (int64_t b = 0; b + 256 <= n; b += 256) {
    const int kind = static_cast<int>((b / 256) % 5);
    float* v = x.data() + b;
    if (kind == 0) {
      // amax 127 in every 32-block (d = 1, id = 1) and Q8_K iscale = ±1: exact .5 ties.
      for (int j = 0; j < 256; ++j) v[j] = static_cast<float>((j % 40) - 20) + 0.5f;
      for (int j = 0; j < 256; j += 32) v[j + 5] = 127.0f;
    } else if (kind == 1) {
      for (int j = 0; j < 256; ++j) v[j] = 0.0f;  // all zero
    } else if (kind == 2) {
      v[3] = -9.0f;  // both signs of the largest magnitude: the first one wins
      v[200] = 9.0f;
    } else if (kind == 3) {
      for (int j = 0; j < 256; ++j) v[j] = (j % 2 ? 1.0f : -1.0f) * 1e-30f;  // tiny
    }
  }
  return x;
}

TEST(ActQuant, EveryTableMatchesTheReferenceBytes) {
  const std::vector<const KernelTable*> tables = testing::all_tables();
  struct Kind {
    GgmlType type;
    QuantizeActFn KernelTable::*fn;
  };
  const Kind kinds[] = {{GgmlType::Q8_0, &KernelTable::quantize_q8_0},
                        {GgmlType::Q8_1, &KernelTable::quantize_q8_1},
                        {GgmlType::Q8_K, &KernelTable::quantize_q8_k}};
  for (const KernelTable* k : tables)
    for (const Kind& kind : kinds)
      for (uint32_t seed = 1; seed <= 6; ++seed) {
        const int64_t n = 256 * 10;
        const auto x = tricky_input(n, seed);
        std::vector<uint8_t> ref(row_bytes(kind.type, n)), got(ref.size(), 0xAB);
        quantize_row(kind.type, x.data(), ref.data(), n);
        (k->*kind.fn)(x.data(), got.data(), n);
        ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size()))
            << k->name << " " << type_name(kind.type) << " seed " << seed;
      }
}

}  // namespace
}  // namespace whale::kernels
