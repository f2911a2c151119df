// Fills the AVX2 dispatch table. Its activation quantisers produce the same bytes as the scalar
// (reference) ones, so the integer sums of every dot product agree between the two tables.
#include "kernels/avx2_kernels.h"
#include "kernels/scalar_kernels.h"

namespace whale::kernels {

KernelTable make_avx2_table() {
  KernelTable t = scalar_table();
  t.name = "avx2";
  t.quantize_q8_0 = avx2::quantize_q8_0;
  t.quantize_q8_1 = avx2::quantize_q8_1;
  t.quantize_q8_k = avx2::quantize_q8_k;
  t.dot_f32w = avx2::dot_f32w;
  t.dot_f16 = avx2::dot_f16;
  t.dot_bf16 = avx2::dot_bf16;
  t.dot_q4_0 = avx2::dot_q4_0;
  t.dot_q4_1 = avx2::dot_q4_1;
  t.dot_q5_0 = avx2::dot_q5_0;
  t.dot_q5_1 = avx2::dot_q5_1;
  t.dot_q8_0 = avx2::dot_q8_0;
  t.dot_iq4_nl = avx2::dot_iq4_nl;
  t.dot_q2_k = avx2::dot_q2_k;
  t.dot_q3_k = avx2::dot_q3_k;
  t.dot_q4_k = avx2::dot_q4_k;
  t.dot_q5_k = avx2::dot_q5_k;
  t.dot_q6_k = avx2::dot_q6_k;
  t.dot_iq4_xs = avx2::dot_iq4_xs;
  t.rmsnorm = avx2::rmsnorm;
  t.softmax = avx2::softmax;
  t.silu_mul = avx2::silu_mul;
  t.add = avx2::add;
  t.scale = avx2::scale;
  t.dot_f32 = avx2::dot_f32;
  t.axpy = avx2::axpy;
  t.dot_f32_f16 = avx2::dot_f32_f16;
  t.axpy_f16 = avx2::axpy_f16;
  t.f16_to_f32 = avx2::f16_to_f32;
  t.q8_0_to_f32 = avx2::q8_0_to_f32;
  t.attn_scores = avx2::attn_scores;
  t.attn_accumulate = avx2::attn_accumulate;
  t.exp_sum = avx2::exp_sum;
  return t;
}

}  // namespace whale::kernels
