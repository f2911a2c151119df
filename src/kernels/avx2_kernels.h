// The AVX2+FMA+F16C kernels (files *_avx2.cpp, compiled with -mavx2 -mfma -mf16c). Call
// nothing declared here unless cpu_features() reports avx2, fma and f16c; dispatch.cpp checks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace whale::kernels::avx2 {

// Activation quantisers, byte-identical to the scalar (reference) ones.
void quantize_q8_0(const float* x, void* dst, int64_t n);
void quantize_q8_1(const float* x, void* dst, int64_t n);
void quantize_q8_k(const float* x, void* dst, int64_t n);

#define WHALE_AVX2_DOT(name)                                                                 \
  void name(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out, \
            size_t out_stride)
WHALE_AVX2_DOT(dot_f32w);
WHALE_AVX2_DOT(dot_f16);
WHALE_AVX2_DOT(dot_bf16);
WHALE_AVX2_DOT(dot_q4_0);
WHALE_AVX2_DOT(dot_q4_1);
WHALE_AVX2_DOT(dot_q5_0);
WHALE_AVX2_DOT(dot_q5_1);
WHALE_AVX2_DOT(dot_q8_0);
WHALE_AVX2_DOT(dot_iq4_nl);
WHALE_AVX2_DOT(dot_q2_k);
WHALE_AVX2_DOT(dot_q3_k);
WHALE_AVX2_DOT(dot_q4_k);
WHALE_AVX2_DOT(dot_q5_k);
WHALE_AVX2_DOT(dot_q6_k);
WHALE_AVX2_DOT(dot_iq4_xs);
#undef WHALE_AVX2_DOT

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

}  // namespace whale::kernels::avx2

namespace whale::kernels {
// The AVX2 table (table_avx2.cpp). Kernels without an AVX2 version use the scalar ones.
KernelTable make_avx2_table();
}  // namespace whale::kernels
