// Scalar twins of the tile-product entries (kernel_table.h, kGemmRows): the reference the AMX
// kernels are tested against. Decoding goes through the tensor layer's dequantisers, so a
// panel row is exactly dequantize_row's output rounded to bf16.
#include <algorithm>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/scalar_kernels.h"
#include "tensor/dtype.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"

namespace whale::kernels::scalar {

void pack_bf16(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group) {
  for (int64_t t = 0; t < 16; ++t)
    for (int64_t k = 0; k < K; ++k)
      group[gemm_packed_index(K, t, k)] = t < n_valid ? f32_to_bf16(x[static_cast<size_t>(t) * x_stride + static_cast<size_t>(k)]) : 0;
}

void decode_bf16(GgmlType t, const void* row, uint16_t* out, int64_t K) {
  // Whole blocks at a time through a small f32 buffer; 256 is a multiple of every block size.
  const TypeTraits& tr = traits(t);
  constexpr int64_t kPiece = 256;
  float buf[kPiece];
  const auto* src = static_cast<const uint8_t*>(row);
  for (int64_t k0 = 0; k0 < K; k0 += kPiece) {
    const int64_t n = std::min(kPiece, K - k0);
    dequantize_row(t, src + static_cast<size_t>(k0 / tr.block_size) * static_cast<size_t>(tr.type_size), buf, n);
    for (int64_t i = 0; i < n; ++i) out[k0 + i] = f32_to_bf16(buf[i]);
  }
}

void gemm_bf16(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks, int64_t n_tokens,
               int64_t n_rows, float* y, size_t y_stride, bool out_rows) {
  // Token t's values live in group t / 16, which is packed_chunks tiles long; inside a group
  // the layout is that of a buffer packed for K = 32 * packed_chunks.
  const int64_t KP = packed_chunks * kGemmChunk;
  // Products of two bf16 values are exact in f32; the sum is kept in double and rounded once,
  // so this is the exactly rounded result the tile unit approximates.
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < n_rows; ++r) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += static_cast<double>(bf16_to_f32(panel[r * gemm_panel_stride(K) + k]) *
                                 bf16_to_f32(packed[gemm_packed_index(KP, t, k)]));
      y[out_rows ? r * static_cast<int64_t>(y_stride) + t : t * static_cast<int64_t>(y_stride) + r] = static_cast<float>(s);
    }
}

void pack_latent_bf16(const uint8_t* const* rows, GgmlType type, int64_t n_valid, int64_t R, int64_t W,
                      uint16_t* keys, uint16_t* values, size_t value_group_stride) {
  std::vector<float> row(static_cast<size_t>(W));
  for (int64_t i = 0; i < 32; ++i) {
    if (i >= n_valid) {
      std::fill(row.begin(), row.end(), 0.0f);
    } else if (type == GgmlType::BF16) {  // a row of a pair-layout cache: values 4 bytes apart
      const auto* h = reinterpret_cast<const uint16_t*>(rows[i]);
      for (int64_t d = 0; d < W; ++d) row[static_cast<size_t>(d)] = bf16_to_f32(h[2 * d]);
    } else {
      dequantize_row(type, rows[i], row.data(), W);
    }
    for (int64_t d = 0; d < W; ++d) {
      const uint16_t v = f32_to_bf16(row[static_cast<size_t>(d)]);
      keys[gemm_packed_index(W, i, d)] = v;
      if (d < R) values[static_cast<size_t>(d / 16) * value_group_stride + static_cast<size_t>(gemm_packed_index(32, d % 16, i))] = v;
    }
  }
}

void mla_pair_scores(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t W, const uint16_t* q,
                     float* s, size_t s_stride) {
  for (int64_t j = 0; j < n_groups; ++j)
    for (int64_t k = 0; k < 32; ++k) {
      const auto* row = reinterpret_cast<const uint16_t*>(groups[j] + static_cast<size_t>(k / 2 * 2) * row_bytes) + k % 2;
      for (int64_t h = 0; h < 16; ++h) {
        double sum = 0;  // exact products, one rounding: what the tile unit approximates
        for (int64_t d = 0; d < W; ++d)
          sum += static_cast<double>(bf16_to_f32(q[(d / 16 * 2) * 512 + d % 16 * 32 + 2 * h]) * bf16_to_f32(row[2 * d]));
        s[static_cast<size_t>(h) * s_stride + static_cast<size_t>(32 * j + k)] = static_cast<float>(sum);
      }
    }
}

void mla_pair_values(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t R, const uint16_t* e,
                     size_t e_stride, float* o, size_t o_stride, const uint8_t* const*, int64_t) {
  for (int64_t h = 0; h < 16; ++h)
    for (int64_t d = 0; d < R; ++d) {
      double sum = 0;
      for (int64_t j = 0; j < n_groups; ++j)
        for (int64_t k = 0; k < 32; ++k) {
          const auto* row = reinterpret_cast<const uint16_t*>(groups[j] + static_cast<size_t>(k / 2 * 2) * row_bytes) + k % 2;
          sum += static_cast<double>(bf16_to_f32(e[static_cast<size_t>(h) * e_stride + static_cast<size_t>(32 * j + k)]) *
                                     bf16_to_f32(row[2 * d]));
        }
      o[static_cast<size_t>(h) * o_stride + static_cast<size_t>(d)] = static_cast<float>(sum);
    }
}

}  // namespace whale::kernels::scalar
