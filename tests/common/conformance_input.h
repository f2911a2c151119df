// The quantisation conformance input of spec gguf-and-quants.md §6 (64 rows x 256 f32 from a
// fixed LCG, eight row kinds) and the FNV-1a-64 hash the spec's table uses.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace whale::testing {

inline constexpr int kConformanceRows = 64;
inline constexpr int kConformanceCols = 256;

inline std::vector<float> conformance_input() {
  uint32_t s = 12345;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return s;
  };
  auto to_v = [](uint32_t u) { return static_cast<float>(static_cast<int32_t>(u)) / 268435456.0f; };
  std::vector<float> x;
  x.reserve(kConformanceRows * kConformanceCols);
  for (int r = 0; r < kConformanceRows; ++r) {
    for (int c = 0; c < kConformanceCols; ++c) {
      const uint32_t u = next();
      const float v = to_v(u);
      float val = 0.0f;
      switch (r % 8) {
        case 0: val = v; break;
        case 1: val = v * 0.001f; break;
        case 2: val = static_cast<float>(static_cast<int32_t>(u) >> 28); break;
        case 3: val = 0.0f; break;
        case 4: val = c % 32 == 7 ? 50.0f : v * 0.01f; break;
        case 5: val = std::fabs(v); break;
        case 6: val = 1.25f; break;
        case 7: {
          const float v2 = to_v(next());
          val = (v + v2) * 0.05f;
          break;
        }
      }
      x.push_back(val);
    }
  }
  return x;
}

inline uint64_t fnv1a64(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace whale::testing
