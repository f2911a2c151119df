// The plain C++ kernels that fill the scalar table (kernel_table.h). They are the reference
// twins of the SIMD kernels, written to follow the spec's formulas literally.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace whale::kernels::scalar {

// Activation quantisers, spec §3.1 (Q8_0, Q8_1) and §3.7 (Q8_K).
void quantize_q8_0(const float* x, void* dst, int64_t n);
void quantize_q8_1(const float* x, void* dst, int64_t n);
void quantize_q8_k(const float* x, void* dst, int64_t n);

#define WHALE_SCALAR_DOT(name)                                                         \
  void name(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out, \
            size_t out_stride)
WHALE_SCALAR_DOT(dot_f32w);
WHALE_SCALAR_DOT(dot_f16);
WHALE_SCALAR_DOT(dot_bf16);
WHALE_SCALAR_DOT(dot_q4_0);
WHALE_SCALAR_DOT(dot_q4_1);
WHALE_SCALAR_DOT(dot_q5_0);
WHALE_SCALAR_DOT(dot_q5_1);
WHALE_SCALAR_DOT(dot_q8_0);
WHALE_SCALAR_DOT(dot_iq4_nl);
WHALE_SCALAR_DOT(dot_q2_k);
WHALE_SCALAR_DOT(dot_q3_k);
WHALE_SCALAR_DOT(dot_q4_k);
WHALE_SCALAR_DOT(dot_q5_k);
WHALE_SCALAR_DOT(dot_q6_k);
WHALE_SCALAR_DOT(dot_iq4_xs);
#undef WHALE_SCALAR_DOT

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void scale(float* x, float s, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
float dot_f32_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n);

// Attention tile kernels (see kernel_table.h).
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void q8_0_to_f32(const void* x, float* y, int64_t n);
void attn_scores(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                 int64_t nq, float* s, size_t s_stride, int64_t d);
void attn_accumulate(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                     int64_t np, float* out, size_t out_stride, int64_t d);
float exp_sum(float* x, float shift, int64_t n);

// Tile-product twins (gemm_scalar.cpp; contracts in kernel_table.h).
void pack_bf16(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group);
void decode_bf16(GgmlType t, const void* row, uint16_t* out, int64_t K);
void gemm_bf16(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks, int64_t n_tokens,
               int64_t n_rows, float* y, size_t y_stride, bool out_rows);
void pack_latent_bf16(const uint8_t* const* rows, GgmlType type, int64_t n_valid, int64_t R, int64_t W,
                      uint16_t* keys, uint16_t* values, size_t value_group_stride);
void mla_pair_scores(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t W, const uint16_t* q,
                     float* s, size_t s_stride);
void mla_pair_values(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t R, const uint16_t* e,
                     size_t e_stride, float* o, size_t o_stride, const uint8_t* const* prefetch, int64_t n_prefetch);

}  // namespace whale::kernels::scalar
