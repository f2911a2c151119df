// Dequantisation of every supported tensor type and the reference quantisers, bit-exact with
// llama.cpp (spec gguf-and-quants.md §2-§3). Block structs are in tensor/quant_blocks.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace whale {

// Converts n elements (a multiple of the type's block size) of type t at src to f32.
// F8_E4M3 here is the raw byte decode, without block scale (see dequantize_fp8_block_scaled).
// src must have the block struct's alignment (2 bytes; 4 for Q8_K), as GGUF payloads do.
// Throws whale::Error for types that cannot be dequantised and for a bad n. Thread-safe.
// Typed per-format entry points live in tensor/quant_rows.h.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// True if quantize_row supports t: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS.
bool can_quantize(GgmlType t);

// Quantises n elements (a multiple of the block size) with llama.cpp's reference algorithm
// (no importance matrix); writes row_bytes(t, n) bytes to dst and returns that count. Throws
// whale::Error when !can_quantize(t), n is not a multiple of the block size, or (for the
// quantised types) an input is NaN/Inf. Thread-safe: no shared state. The typed functions of
// tensor/quant_rows.h skip these checks for hot paths.
size_t quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// DeepSeek FP8 weight [rows x cols] (row-major bytes) with f32 scale_inv
// [ceil(rows/128) x ceil(cols/128)]: out[i][j] = e4m3(w[i][j]) * scale_inv[i/128][j/128].
void dequantize_fp8_block_scaled(const uint8_t* w, const float* scale_inv, int64_t rows,
                                 int64_t cols, float* out, int block = 128);

}  // namespace whale
