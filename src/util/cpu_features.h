// Run-time CPU feature detection; kernels pick their code path from this, never from -march.
#pragma once

namespace whale {

// A flag is true only when the CPU has the instructions AND the OS saves the register state
// they need (XCR0: YMM for AVX2/FMA/F16C, ZMM and opmask state for every AVX-512 flag).
struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;  // vpdpbusd / vpdpwssd on 128/256/512-bit registers (AVX512_VNNI)
  bool avx512bf16 = false;  // vcvtne2ps2bf16 / vdpbf16ps (AVX512_BF16)
  // AMX tiles with the BF16 tile product (tdpbf16ps). True only if the CPU has AMX-TILE and
  // AMX-BF16, XCR0 enables tile state, and (on Linux) the kernel granted this process
  // permission to use it (arch_prctl ARCH_REQ_XCOMP_PERM, asked once during detection).
  bool amx_bf16 = false;
  bool neon = false;
};

// Detected once on first call (thread-safe), then cached; immutable afterwards.
const CpuFeatures& cpu_features();

}  // namespace whale
