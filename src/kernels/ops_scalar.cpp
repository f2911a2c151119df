// Scalar twins of the f32 vector ops (ops.h) and the activation quantisers, which are the
// tensor layer's reference quantisers (spec §3.1, §3.7) behind the table's signature.
#include <cmath>
#include <limits>

#include "kernels/scalar_kernels.h"
#include "tensor/float_convert.h"
#include "tensor/quant_rows.h"

namespace whale::kernels::scalar {

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  quantize_row_q8_0(x, static_cast<BlockQ8_0*>(dst), n);
}
void quantize_q8_1(const float* x, void* dst, int64_t n) {
  quantize_row_q8_1(x, static_cast<BlockQ8_1*>(dst), n);
}
void quantize_q8_k(const float* x, void* dst, int64_t n) {
  quantize_row_q8_k(x, static_cast<BlockQ8K*>(dst), n);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  float ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float mean = n > 0 ? ss / static_cast<float>(n) : 0.0f;
  const float inv = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * inv);
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::fmax(mx, x[i]);
  if (mx == -std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = (g / (1.0f + std::exp(-g))) * up[i];
  }
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * fp16_to_f32(b[i]);
  return s;
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_f32(x[i]);
}

}  // namespace whale::kernels::scalar
