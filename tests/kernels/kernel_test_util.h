// Shared helpers of the kernels tests: random weight rows of every type, built two ways:
// quantised from random floats with the reference quantiser (realistic), and raw random bytes
// with sane scale fields (every bit pattern of the quant payload, e.g. Q8_0's -128).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"
#include "tensor/tensor_view.h"

namespace whale::kernels::testing {

inline const std::vector<GgmlType>& all_weight_types() {
  static const std::vector<GgmlType> types = {
      GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,   GgmlType::Q8_0, GgmlType::Q4_0,
      GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,   GgmlType::Q2_K, GgmlType::Q3_K,
      GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,   GgmlType::IQ4_NL, GgmlType::IQ4_XS};
  return types;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Byte offsets of the f16 scale fields of one block, per spec §2.3-§2.4.
inline std::vector<int> f16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL:
    case GgmlType::IQ4_XS:
      return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

// A [rows x k] weight matrix of type t.
struct Weights {
  GgmlType type;
  int64_t k = 0, rows = 0;
  std::vector<uint8_t> bytes;
  TensorView view() const {
    TensorView v;
    v.name = "test_weight";
    v.type = type;
    v.n_dims = 2;
    v.ne = {k, rows, 1, 1};
    v.data = bytes.data();
    v.nbytes = bytes.size();
    return v;
  }
  std::vector<float> dequantized() const {
    std::vector<float> out(static_cast<size_t>(k * rows));
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(type, bytes.data() + r * row_bytes(type, k), out.data() + r * k, k);
    return out;
  }
};

inline Weights quantized_weights(GgmlType t, int64_t k, int64_t rows, uint32_t seed) {
  Weights w{t, k, rows, std::vector<uint8_t>(row_bytes(t, k) * rows)};
  const auto src = random_floats(static_cast<size_t>(k * rows), seed, 0.5f);
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(t, src.data() + r * k, w.bytes.data() + r * row_bytes(t, k), k);
  return w;
}

// Random payload bytes; f16/bf16/f32 values and the f16 block scales are drawn from a sane
// range so no inf/NaN appears.
inline Weights random_byte_weights(GgmlType t, int64_t k, int64_t rows, uint32_t seed) {
  Weights w{t, k, rows, std::vector<uint8_t>(row_bytes(t, k) * rows)};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.0f, 1.0f);
  std::uniform_real_distribution<float> sc(0.0005f, 0.02f);
  if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
    for (size_t i = 0; i < static_cast<size_t>(k * rows); ++i) {
      const float v = val(rng);
      if (t == GgmlType::F32) std::memcpy(w.bytes.data() + 4 * i, &v, 4);
      else {
        const uint16_t h = t == GgmlType::F16 ? f32_to_fp16(v) : f32_to_bf16(v);
        std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      }
    }
    return w;
  }
  for (auto& b : w.bytes) b = static_cast<uint8_t>(rng());
  const auto& tr = traits(t);
  const size_t nblocks = w.bytes.size() / tr.type_size;
  for (size_t b = 0; b < nblocks; ++b)
    for (int off : f16_fields(t)) {
      const float s = (rng() & 1 ? -1.0f : 1.0f) * sc(rng);
      const uint16_t h = f32_to_fp16(s);
      std::memcpy(w.bytes.data() + b * tr.type_size + off, &h, 2);
    }
  return w;
}

}  // namespace whale::kernels::testing
