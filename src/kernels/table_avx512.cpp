// Fills the AVX-512 VNNI dispatch table: the AVX2 table with the weight-row dot products and
// attention tile kernels that have AVX-512 versions replaced. Activation quantisers stay the
// AVX2 (reference-identical) ones, so integer sums agree with the scalar and AVX2 tables.
#include "kernels/avx2_kernels.h"
#include "kernels/avx512_kernels.h"

namespace whale::kernels {

KernelTable make_avx512_table() {
  KernelTable t = make_avx2_table();
  t.name = "avx512-vnni";
  t.max_dot_tokens = 8;
  t.dot_q4_0 = avx512::dot_q4_0;
  t.dot_q5_0 = avx512::dot_q5_0;
  t.dot_q8_0 = avx512::dot_q8_0;
  t.dot_q4_k = avx512::dot_q4_k;
  t.dot_q5_k = avx512::dot_q5_k;
  t.dot_q6_k = avx512::dot_q6_k;
  t.f16_to_f32 = avx512::f16_to_f32;
  t.q8_0_to_f32 = avx512::q8_0_to_f32;
  t.attn_scores = avx512::attn_scores;
  t.attn_accumulate = avx512::attn_accumulate;
  t.exp_sum = avx512::exp_sum;
  return t;
}

}  // namespace whale::kernels
