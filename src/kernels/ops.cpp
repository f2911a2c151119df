// Public f32 ops: forward to the table chosen once at start-up.
#include "kernels/ops.h"

#include "kernels/kernel_table.h"

namespace whale::kernels {

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  active_table().rmsnorm(x, w, y, n, eps);
}
void softmax(float* x, int64_t n) { active_table().softmax(x, n); }
void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  active_table().silu_mul(gate, up, out, n);
}
void add(const float* a, const float* b, float* out, int64_t n) { active_table().add(a, b, out, n); }
void scale(float* x, float s, int64_t n) { active_table().scale(x, s, n); }
float dot_f32(const float* a, const float* b, int64_t n) { return active_table().dot_f32(a, b, n); }
void axpy(float a, const float* x, float* y, int64_t n) { active_table().axpy(a, x, y, n); }

}  // namespace whale::kernels
