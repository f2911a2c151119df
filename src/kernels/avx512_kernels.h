// The AVX-512 VNNI kernels (files *_avx512.cpp, compiled with -mavx512{f,bw,vl,dq,vnni} plus
// AVX2/FMA/F16C). Call nothing declared here unless cpu_features() reports all of those and the
// OS saves ZMM state; dispatch.cpp checks. Only the weight-row dot products and the attention
// tile kernels that decode spends its time in have AVX-512 versions; every other entry of the
// table is the AVX2 one.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace whale::kernels::avx512 {

// Same DotFn contract as kernel_table.h: nt 1..4 activation rows, each weight block decoded once
// for all of them; integer block sums equal the scalar twin's, only f32 rounding differs.
#define WHALE_AVX512_DOT(name)                                                               \
  void name(int64_t n, const void* w, const void* act, size_t act_stride, int nt, float* out, \
            size_t out_stride)
// Against Q8_0 activations (dot_q32_avx512.cpp).
WHALE_AVX512_DOT(dot_q4_0);
WHALE_AVX512_DOT(dot_q5_0);
WHALE_AVX512_DOT(dot_q8_0);
// Against Q8_K activations (dot_kquants_avx512.cpp).
WHALE_AVX512_DOT(dot_q4_k);
WHALE_AVX512_DOT(dot_q5_k);
WHALE_AVX512_DOT(dot_q6_k);
#undef WHALE_AVX512_DOT

// Attention tile kernels (attention_avx512.cpp), the KernelTable contracts of the entries of
// the same names. Products and sums are f32 like the scalar twins, in a different order;
// exp_sum's exp is within a few ulp of std::exp (same polynomial as the AVX2 one) and, unlike
// it, gives subnormals rather than 0 for arguments in [-103.9, -87.3]. Results depend only on
// the values, never on the buffers' addresses or a row's place in the tile.
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void q8_0_to_f32(const void* x, float* y, int64_t n);
void attn_scores(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                 int64_t nq, float* s, size_t s_stride, int64_t d);
void attn_accumulate(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                     int64_t np, float* out, size_t out_stride, int64_t d);
float exp_sum(float* x, float shift, int64_t n);

}  // namespace whale::kernels::avx512

namespace whale::kernels {
// The AVX-512 table (table_avx512.cpp): the AVX2 table with the kernels above replaced.
KernelTable make_avx512_table();
}  // namespace whale::kernels
