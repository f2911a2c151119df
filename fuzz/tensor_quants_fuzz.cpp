// Fuzzes the quantisers and dequantisers: any bytes must decode without crashing, and any
// finite floats must quantise (non-finite ones must be refused with whale::Error), including
// degenerate blocks whose scales are subnormal or whose sums overflow.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensor/quants.h"
#include "util/error.h"

namespace {

constexpr whale::GgmlType kTypes[] = {
    whale::GgmlType::F32,  whale::GgmlType::F16,    whale::GgmlType::BF16,
    whale::GgmlType::Q4_0, whale::GgmlType::Q4_1,   whale::GgmlType::Q5_0,
    whale::GgmlType::Q5_1, whale::GgmlType::Q8_0,   whale::GgmlType::Q8_1,
    whale::GgmlType::Q2_K, whale::GgmlType::Q3_K,   whale::GgmlType::Q4_K,
    whale::GgmlType::Q5_K, whale::GgmlType::Q6_K,   whale::GgmlType::Q8_K,
    whale::GgmlType::IQ4_NL, whale::GgmlType::IQ4_XS, whale::GgmlType::F8_E4M3,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const whale::GgmlType t = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  const bool quantise = data[0] & 0x80;
  ++data;
  --size;
  const auto& tr = whale::traits(t);
  if (!quantise) {
    // Blocks are read in place and need their natural (2- or 4-byte) alignment, which GGUF
    // payloads always have; libFuzzer's buffer after the selector byte does not.
    const int64_t blocks = static_cast<int64_t>(size / tr.type_size);
    std::vector<float> aligned((size + 3) / 4);
    std::memcpy(aligned.data(), data, size);
    std::vector<float> out(static_cast<size_t>(blocks * tr.block_size));
    whale::dequantize_row(t, aligned.data(), out.data(), blocks * tr.block_size);
    return 0;
  }
  if (!whale::can_quantize(t)) return 0;
  const int64_t n = static_cast<int64_t>(size / 4) / tr.block_size * tr.block_size;
  if (n == 0) return 0;
  std::vector<float> x(static_cast<size_t>(n));
  std::memcpy(x.data(), data, static_cast<size_t>(n) * 4);
  std::vector<uint8_t> q(whale::row_bytes(t, n));
  try {
    whale::quantize_row(t, x.data(), q.data(), n);
  } catch (const whale::Error&) {
    return 0;  // non-finite input
  }
  std::vector<float> back(static_cast<size_t>(n));
  whale::dequantize_row(t, q.data(), back.data(), n);
  return 0;
}
