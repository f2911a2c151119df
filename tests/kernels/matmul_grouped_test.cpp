// matmul_grouped against one plain matmul per group on that group's rows and input (the
// reference twin: same activation quantisation, same dot kernel, so results are bit-identical),
// for float and quantised types, contiguous and strided groups (legacy kv_b: W_UV rows of each
// head sit between its W_UK rows), tokens 1, 3 and 9, both tables, threads 1-4.
#include <gtest/gtest.h>

#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "util/error.h"
#include "tables.h"

namespace whale::kernels {
namespace {

using testing::quantized_weights;
using testing::random_floats;

TensorView group_view(const testing::Weights& w, int64_t first_row, int64_t rows) {
  TensorView v = w.view();
  v.data = w.bytes.data() + row_bytes(w.type, w.k) * first_row;
  v.ne = {w.k, rows, 1, 1};
  v.nbytes = row_bytes(w.type, w.k) * rows;
  return v;
}

TEST(MatmulGrouped, EqualsOneMatmulPerGroup) {
  const std::vector<const KernelTable*> tables = testing::all_tables();
  for (const KernelTable* table : tables)
    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_K})
      for (int64_t stride_extra : {0, 5})
        for (int64_t T : {1, 3, 9})
          for (int threads = 1; threads <= 4; ++threads) {
            const int64_t G = 5, rows = 37, K = 256, stride = rows + stride_extra;
            const auto w = quantized_weights(type, K, (G - 1) * stride + rows, 31);
            GroupedLayout g;
            g.n_groups = G, g.group_rows = rows, g.group_row_stride = stride;
            g.x_group_stride = K + 3, g.x_token_stride = G * (K + 3) + 1;   // padded input
            g.y_group_stride = rows + 2, g.y_token_stride = G * (rows + 2);  // padded output
            const auto x = random_floats(static_cast<size_t>(T * g.x_token_stride), 32);
            std::vector<float> y(static_cast<size_t>(T * g.y_token_stride), -7.0f);
            ThreadPool pool(threads);
            matmul_grouped_with(*table, w.view(), g, x.data(), T, y.data(), pool);
            for (int64_t gr = 0; gr < G; ++gr) {
              std::vector<float> xin(static_cast<size_t>(T * K)), yref(static_cast<size_t>(T * rows));
              for (int64_t t = 0; t < T; ++t)
                std::copy_n(x.data() + t * g.x_token_stride + gr * g.x_group_stride, K, xin.data() + t * K);
              matmul_with(*table, group_view(w, gr * stride, rows), xin.data(), T, yref.data(), pool);
              for (int64_t t = 0; t < T; ++t)
                for (int64_t r = 0; r < rows; ++r)
                  ASSERT_EQ(y[t * g.y_token_stride + gr * g.y_group_stride + r], yref[t * rows + r])
                      << table->name << " " << type_name(type) << " group " << gr << " token " << t << " row " << r;
            }
            // Padding between groups is untouched.
            for (int64_t t = 0; t < T; ++t)
              for (int64_t gr = 0; gr < G; ++gr)
                for (int64_t r = rows; r < rows + 2; ++r)
                  ASSERT_EQ(y[t * g.y_token_stride + gr * g.y_group_stride + r], -7.0f);
          }
}

TEST(MatmulGrouped, RejectsGroupsPastTheRows) {
  const auto w = quantized_weights(GgmlType::F32, 32, 10, 1);
  GroupedLayout g;
  g.n_groups = 3, g.group_rows = 4, g.group_row_stride = 4;
  std::vector<float> x(200), y(200);
  ThreadPool pool(1);
  EXPECT_THROW(matmul_grouped(w.view(), g, x.data(), 1, y.data(), pool), Error);
}

}  // namespace
}  // namespace whale::kernels
