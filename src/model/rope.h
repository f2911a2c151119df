// Rotary position embedding with precomputed per-pair frequencies (YaRN or Llama-3 scaled; see
// hparams.h rope_frequencies) in either pair layout.
#pragma once
#include <cmath>
#include <vector>

#include "model/hparams.h"

namespace whale::model {

class Rope {
 public:
  explicit Rope(const RopeParams& p) : layout_(p.layout), dims_(p.dims), amplitude_(p.yarn_amplitude),
                                       freqs_(rope_frequencies(p)) {}

  // Rotates the first dims() values of x (one head) for absolute position pos.
  void apply(float* x, int pos) const {
    const int half = dims_ / 2;
    for (int j = 0; j < half; ++j) {
      // Angles in double: positions reach 1e5+ and f32 phase error would grow with them.
      const double phi = static_cast<double>(pos) * freqs_[j];
      const float c = static_cast<float>(std::cos(phi)) * amplitude_;
      const float s = static_cast<float>(std::sin(phi)) * amplitude_;
      const int a = layout_ == RopeLayout::kAdjacentPairs ? 2 * j : j;
      const int b = layout_ == RopeLayout::kAdjacentPairs ? 2 * j + 1 : j + half;
      const float x0 = x[a], x1 = x[b];
      x[a] = x0 * c - x1 * s;
      x[b] = x0 * s + x1 * c;
    }
  }
  int dims() const { return dims_; }
  const std::vector<float>& frequencies() const { return freqs_; }

 private:
  RopeLayout layout_;
  int dims_;
  float amplitude_;
  std::vector<float> freqs_;
};

}  // namespace whale::model
