// Run-time CPU feature detection; kernels pick their code path from this, never from -march.
#pragma once

namespace whale {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool neon = false;
};

// Detected once on first call (thread-safe), then cached; immutable afterwards.
const CpuFeatures& cpu_features();

}  // namespace whale
