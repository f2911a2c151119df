// llama.cpp conformance data (fixtures/quants/conformance.gguf, read through the GGUF reader):
// for every type, (1) our decoder turns ggml's quantised bytes into exactly ggml's decoded
// values and (2) our reference quantiser turns `input` into exactly ggml's bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/conformance_input.h"
#include "common/fixtures.h"
#include "formats/gguf.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"

namespace whale {
namespace {

constexpr const char* kFixture = "quants/conformance.gguf";

const char* const kTypeNames[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k",
                                  "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "f16", "bf16"};

std::unique_ptr<gguf::GgufFile> open_fixture() {
  return gguf::GgufFile::open(testing::fixture(kFixture));
}

TEST(QuantConformance, InputTensorIsTheSpecMatrix) {
  WHALE_REQUIRE_FIXTURE(kFixture);
  auto f = open_fixture();
  EXPECT_EQ(f->tensors().size(), 29u);
  const TensorView in = f->view("input");
  ASSERT_EQ(in.type, GgmlType::F32);
  ASSERT_EQ(in.ne[0], testing::kConformanceCols);
  ASSERT_EQ(in.ne[1], testing::kConformanceRows);
  const auto want = testing::conformance_input();
  ASSERT_EQ(in.nbytes, want.size() * 4);
  EXPECT_EQ(std::memcmp(in.data, want.data(), in.nbytes), 0);
}

class QuantConformanceType : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantConformanceType, DequantisesBitExactly) {
  WHALE_REQUIRE_FIXTURE(kFixture);
  auto f = open_fixture();
  const std::string name = GetParam();
  const TensorView q = f->view(name);
  const TensorView ref = f->view(name + ".dequantized");
  ASSERT_EQ(type_from_name(name), q.type) << name;
  ASSERT_EQ(ref.type, GgmlType::F32);
  ASSERT_EQ(q.n_elements(), ref.n_elements());
  const int64_t cols = q.ne[0];
  std::vector<float> row(cols);
  for (int64_t r = 0; r < q.n_rows(); ++r) {
    dequantize_row(q.type, q.row(r), row.data(), cols);
    const auto* want = reinterpret_cast<const uint8_t*>(ref.row(r));
    for (int64_t c = 0; c < cols; ++c) {
      uint32_t w;
      std::memcpy(&w, want + 4 * c, 4);
      ASSERT_EQ(f32_bits(row[c]), w) << name << " row " << r << " col " << c << ": got " << row[c]
                                     << ", ggml " << f32_from_bits(w);
    }
  }
}

TEST_P(QuantConformanceType, QuantisesToTheSameBytes) {
  WHALE_REQUIRE_FIXTURE(kFixture);
  auto f = open_fixture();
  const std::string name = GetParam();
  const TensorView q = f->view(name);
  ASSERT_TRUE(can_quantize(q.type)) << name;
  const TensorView in = f->view("input");
  const int64_t cols = in.ne[0];
  ASSERT_EQ(q.row_size(), row_bytes(q.type, cols));
  std::vector<float> x(cols);
  std::vector<uint8_t> out(q.row_size());
  for (int64_t r = 0; r < in.n_rows(); ++r) {
    std::memcpy(x.data(), in.row(r), cols * 4);
    ASSERT_EQ(quantize_row(q.type, x.data(), out.data(), cols), out.size());
    const uint8_t* want = q.row(r);
    for (size_t b = 0; b < out.size(); ++b)
      ASSERT_EQ(out[b], want[b]) << name << " row " << r << " byte " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantConformanceType, ::testing::ValuesIn(kTypeNames),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace whale
