// Type dispatch for quants.h: validates the element count, then calls the typed row converter
// of quant_rows.h.
#include "tensor/quants.h"

#include <cmath>
#include <cstring>

#include "tensor/float_convert.h"
#include "tensor/quant_rows.h"
#include "util/error.h"

namespace whale {
namespace {

void check_count(GgmlType t, int64_t n, const char* what) {
  const auto& tr = traits(t);
  if (n < 0 || n % tr.block_size != 0)
    fail(what, ": element count ", n, " is not a multiple of the ", tr.name, " block size ",
         tr.block_size);
}

}  // namespace

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  if (!type_traits(static_cast<uint32_t>(t)))
    fail("dequantize_row: unknown tensor type id ", static_cast<uint32_t>(t));
  check_count(t, n, "dequantize_row");
  if (n == 0) return;  // callers may pass null buffers for empty rows
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
      return dequantize_row_f16(static_cast<const uint16_t*>(src), dst, n);
    case GgmlType::BF16:
      return dequantize_row_bf16(static_cast<const uint16_t*>(src), dst, n);
    case GgmlType::F8_E4M3:
      return dequantize_row_f8_e4m3(static_cast<const uint8_t*>(src), dst, n);
    case GgmlType::Q4_0:
      return dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case GgmlType::Q4_1:
      return dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
    case GgmlType::Q5_0:
      return dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case GgmlType::Q5_1:
      return dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
    case GgmlType::Q8_0:
      return dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case GgmlType::Q8_1:
      return dequantize_row_q8_1(static_cast<const BlockQ8_1*>(src), dst, n);
    case GgmlType::Q2_K:
      return dequantize_row_q2_k(static_cast<const BlockQ2K*>(src), dst, n);
    case GgmlType::Q3_K:
      return dequantize_row_q3_k(static_cast<const BlockQ3K*>(src), dst, n);
    case GgmlType::Q4_K:
      return dequantize_row_q4_k(static_cast<const BlockQ4K*>(src), dst, n);
    case GgmlType::Q5_K:
      return dequantize_row_q5_k(static_cast<const BlockQ5K*>(src), dst, n);
    case GgmlType::Q6_K:
      return dequantize_row_q6_k(static_cast<const BlockQ6K*>(src), dst, n);
    case GgmlType::Q8_K:
      return dequantize_row_q8_k(static_cast<const BlockQ8K*>(src), dst, n);
    case GgmlType::IQ4_NL:
      return dequantize_row_iq4_nl(static_cast<const BlockIQ4NL*>(src), dst, n);
    case GgmlType::IQ4_XS:
      return dequantize_row_iq4_xs(static_cast<const BlockIQ4XS*>(src), dst, n);
    default:
      break;
  }
  fail("dequantize_row: cannot dequantise tensor type ", type_name(t));
}

bool can_quantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::Q8_1:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::Q8_K:
    case GgmlType::IQ4_NL:
    case GgmlType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

size_t quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
  if (!type_traits(static_cast<uint32_t>(t)) || !can_quantize(t))
    fail("quantize_row: no quantiser for tensor type id ", static_cast<uint32_t>(t));
  check_count(t, n, "quantize_row");
  if (n == 0) return 0;
  // NaN/Inf make the reference's scale searches undefined (spec §3.9): refuse them up front.
  // F32/F16/BF16 have a defined encoding for them and pass through.
  if (t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(src[i]))
        fail("quantize_row: non-finite value ", src[i], " at element ", i,
             " cannot be quantised to ", type_name(t));
  }
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      break;
    case GgmlType::F16:
      quantize_row_f16(src, static_cast<uint16_t*>(dst), n);
      break;
    case GgmlType::BF16:
      quantize_row_bf16(src, static_cast<uint16_t*>(dst), n);
      break;
    case GgmlType::Q4_0:
      quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
      break;
    case GgmlType::Q4_1:
      quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
      break;
    case GgmlType::Q5_0:
      quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
      break;
    case GgmlType::Q5_1:
      quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
      break;
    case GgmlType::Q8_0:
      quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
      break;
    case GgmlType::Q8_1:
      quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
      break;
    case GgmlType::Q2_K:
      quantize_row_q2_k(src, static_cast<BlockQ2K*>(dst), n);
      break;
    case GgmlType::Q3_K:
      quantize_row_q3_k(src, static_cast<BlockQ3K*>(dst), n);
      break;
    case GgmlType::Q4_K:
      quantize_row_q4_k(src, static_cast<BlockQ4K*>(dst), n);
      break;
    case GgmlType::Q5_K:
      quantize_row_q5_k(src, static_cast<BlockQ5K*>(dst), n);
      break;
    case GgmlType::Q6_K:
      quantize_row_q6_k(src, static_cast<BlockQ6K*>(dst), n);
      break;
    case GgmlType::Q8_K:
      quantize_row_q8_k(src, static_cast<BlockQ8K*>(dst), n);
      break;
    case GgmlType::IQ4_NL:
      quantize_row_iq4_nl(src, static_cast<BlockIQ4NL*>(dst), n);
      break;
    case GgmlType::IQ4_XS:
      quantize_row_iq4_xs(src, static_cast<BlockIQ4XS*>(dst), n);
      break;
    default:
      break;
  }
  return row_bytes(t, n);
}

void dequantize_fp8_block_scaled(const uint8_t* w, const float* scale_inv, int64_t rows,
                                 int64_t cols, float* out, int block) {
  if (rows < 0 || cols < 0 || block <= 0)
    fail("dequantize_fp8_block_scaled: bad shape ", rows, "x", cols, " with block ", block);
  const int64_t scale_cols = (cols + block - 1) / block;
  for (int64_t i = 0; i < rows; ++i) {
    const float* srow = scale_inv + (i / block) * scale_cols;
    const uint8_t* wrow = w + i * cols;
    float* orow = out + i * cols;
    dequantize_row_f8_e4m3(wrow, orow, cols);
    for (int64_t j = 0; j < cols; ++j) orow[j] = orow[j] * srow[j / block];
  }
}

}  // namespace whale
