// The AMX tile-product kernels (gemm_amx.cpp, attention_amx.cpp: built with AMX-TILE/AMX-BF16/
// AVX512-BF16 on top of the AVX-512 flags). Call nothing declared here unless amx_table()
// (dispatch.cpp) is non-null: it checks the CPU, XCR0 and the OS permission for tile state.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace whale::kernels::amx {

// The tile configuration (palette 1) every kernel here uses: tiles 0-7 of 16 rows x 64 bytes.
// Plain integer code, called only from the *_amx.cpp files (so every copy has their flags).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
inline TileConfig full_tiles() {
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  return cfg;
}

// The kernel_table.h contracts of the entries of the same names. decode_bf16 has fast paths
// for Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K/F32/F16/BF16 and goes through dequantize_row otherwise;
// its values equal the scalar twin's except that subnormal f32 values become (signed) zero.
void pack_bf16(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group);
void decode_bf16(GgmlType t, const void* row, uint16_t* out, int64_t K);
void gemm_bf16(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks, int64_t n_tokens,
               int64_t n_rows, float* y, size_t y_stride, bool out_rows);
// attention_amx.cpp: keys through 16x16 dword transposes, values through word interleaves.
void pack_latent_bf16(const uint8_t* const* rows, GgmlType type, int64_t n_valid, int64_t R, int64_t W,
                      uint16_t* keys, uint16_t* values, size_t value_group_stride);
void mla_pair_scores(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t W, const uint16_t* q,
                     float* s, size_t s_stride);
void mla_pair_values(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t R, const uint16_t* e,
                     size_t e_stride, float* o, size_t o_stride, const uint8_t* const* prefetch, int64_t n_prefetch);

}  // namespace whale::kernels::amx

namespace whale::kernels {
// The AVX-512 table with the tile products filled in and enabled.
KernelTable make_amx_table();
}  // namespace whale::kernels
