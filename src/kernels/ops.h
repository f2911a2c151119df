// Element-wise and reduction kernels on f32 vectors used by the forward pass. Each has a
// scalar and an AVX2 version; the AVX2 one is picked once at run time (util/cpu_features.h).
// Results of the two agree to f32 rounding (summation order differs), not bit for bit.
// Pointers must be valid for n floats; n may be 0. Unless stated, outputs may alias inputs.
#pragma once
#include <cstdint>

namespace whale::kernels {

// y[i] = w[i] * x[i] / sqrt(mean(x^2) + eps)   (deepseek-arch §2.2; sum in f32)
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// x = softmax(x) in place (max-subtracted, so any finite input is safe). -inf entries get 0;
// an all -inf row becomes all zeros rather than NaN.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// out[i] = a[i] + b[i].
void add(const float* a, const float* b, float* out, int64_t n);

// x[i] *= s.
void scale(float* x, float s, int64_t n);

// sum_i a[i] * b[i] (f32 accumulation).
float dot_f32(const float* a, const float* b, int64_t n);

// y[i] += a * x[i].
void axpy(float a, const float* x, float* y, int64_t n);

}  // namespace whale::kernels
