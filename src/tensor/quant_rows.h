// Typed per-format row converters behind quants.h's dispatch (spec gguf-and-quants.md §2-§3).
// `n` counts elements and must be a multiple of the format's block size (not checked here: the
// dispatch in quants.cpp validates it). Exposed so that kernels and tests can call one format
// directly without going through the type switch.
#pragma once
#include <cstdint>

#include "tensor/quant_blocks.h"

namespace whale {

// --- dequantisers (bit-exact with the reference decoders, unfused f32 arithmetic) ---
void dequantize_row_f16(const uint16_t* x, float* y, int64_t n);
void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n);
void dequantize_row_f8_e4m3(const uint8_t* x, float* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_row_iq4_nl(const BlockIQ4NL* x, float* y, int64_t n);
void dequantize_row_q2_k(const BlockQ2K* x, float* y, int64_t n);
void dequantize_row_q3_k(const BlockQ3K* x, float* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8K* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const BlockIQ4XS* x, float* y, int64_t n);

// --- reference quantisers (no importance matrix), bit-exact with llama.cpp on x86-64 ---
void quantize_row_f16(const float* x, uint16_t* y, int64_t n);
void quantize_row_bf16(const float* x, uint16_t* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_iq4_nl(const float* x, BlockIQ4NL* y, int64_t n);
void quantize_row_q2_k(const float* x, BlockQ2K* y, int64_t n);
void quantize_row_q3_k(const float* x, BlockQ3K* y, int64_t n);
void quantize_row_q4_k(const float* x, BlockQ4K* y, int64_t n);
void quantize_row_q5_k(const float* x, BlockQ5K* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6K* y, int64_t n);
void quantize_row_q8_k(const float* x, BlockQ8K* y, int64_t n);
void quantize_row_iq4_xs(const float* x, BlockIQ4XS* y, int64_t n);

}  // namespace whale
