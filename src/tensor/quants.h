// Dequantisation of every supported tensor type and the reference quantisers, bit-exact with
// llama.cpp (spec gguf-and-quants.md §2-§3). Block structs are in tensor/quant_blocks.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace whale {

// Converts n elements (a multiple of the type's block size) of type t at src to f32.
// F8_E4M3 here is the raw byte decode, without block scale (see dequantize_fp8_block_scaled).
// Throws whale::Error for types that cannot be dequantised.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// True if quantize_row supports t (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K,
// Q8_K, IQ4_NL, IQ4_XS, F16, BF16, F32 as implemented).
bool can_quantize(GgmlType t);

// Quantises n elements (a multiple of the block size) with llama.cpp's reference algorithm
// (no importance matrix); writes row_bytes(t, n) bytes to dst and returns that count.
size_t quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// DeepSeek FP8 weight [rows x cols] (row-major bytes) with f32 scale_inv
// [ceil(rows/128) x ceil(cols/128)]: out[i][j] = e4m3(w[i][j]) * scale_inv[i/128][j/128].
void dequantize_fp8_block_scaled(const uint8_t* w, const float* scale_inv, int64_t rows,
                                 int64_t cols, float* out, int block = 128);

}  // namespace whale
