// The AMX tile-product kernels (gemm_amx.cpp, built with AMX-TILE/AMX-BF16/AVX512-BF16 on top of
// the AVX-512 flags). Call nothing declared here unless amx_table() (dispatch.cpp) is non-null:
// it checks the CPU, XCR0 and the OS permission for tile state.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace whale::kernels::amx {

// The kernel_table.h contracts of the entries of the same names. decode_bf16 has fast paths
// for Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K/F32/F16/BF16 and goes through dequantize_row otherwise;
// its values equal the scalar twin's except that subnormal f32 values become (signed) zero.
void pack_bf16(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group);
void decode_bf16(GgmlType t, const void* row, uint16_t* out, int64_t K);
void gemm_bf16(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks, int64_t n_tokens,
               int64_t n_rows, float* y, size_t y_stride, bool out_rows);

}  // namespace whale::kernels::amx

namespace whale::kernels {
// The AVX-512 table with the tile products filled in and enabled.
KernelTable make_amx_table();
}  // namespace whale::kernels
