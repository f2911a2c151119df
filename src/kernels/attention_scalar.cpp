// Scalar twins of the attention tile kernels (kernel_table.h): the reference the AVX2 versions
// are tested against, written as the plain loops of their definitions.
#include <cmath>
#include <cstring>

#include "kernels/scalar_kernels.h"
#include "tensor/float_convert.h"

namespace whale::kernels::scalar {

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

void q8_0_to_f32(const void* x, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(x);
  for (int64_t b = 0; b < n / 32; ++b, p += 34) {
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const float d = fp16_to_f32(dh);
    const auto* q = reinterpret_cast<const int8_t*>(p + 2);
    for (int i = 0; i < 32; ++i) y[b * 32 + i] = q[i] * d;
  }
}

void attn_scores(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                 int64_t nq, float* s, size_t s_stride, int64_t d) {
  for (int64_t j = 0; j < nq; ++j)
    for (int64_t t = 0; t < n_rows; ++t) {
      float acc = 0;
      for (int64_t i = 0; i < d; ++i) acc += q[j * q_stride + i] * rows[t * row_stride + i];
      s[j * s_stride + t] = acc;
    }
}

void attn_accumulate(const float* rows, size_t row_stride, int64_t n_rows, const float* p, size_t p_stride,
                     int64_t np, float* out, size_t out_stride, int64_t d) {
  for (int64_t j = 0; j < np; ++j)
    for (int64_t t = 0; t < n_rows; ++t) {
      const float w = p[j * p_stride + t];
      for (int64_t i = 0; i < d; ++i) out[j * out_stride + i] += w * rows[t * row_stride + i];
    }
}

float exp_sum(float* x, float shift, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}

}  // namespace whale::kernels::scalar
