#include "util/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstdint>
#endif

namespace whale {

#if defined(__x86_64__) || defined(__i386__)
namespace {

// XCR0, the register-state components the OS saves on a context switch. Only valid when CPUID
// reports OSXSAVE; xgetbv is inline asm so this file needs no -mxsave.
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace
#endif

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const bool fma = (ecx >> 12) & 1, f16c = (ecx >> 29) & 1, avx = (ecx >> 28) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  // Bits 1, 2: SSE and AVX (YMM upper halves); 5, 6, 7: opmask, ZMM0-15 upper halves, ZMM16-31.
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax7 = 0;
  if (!__get_cpuid_count(7, 0, &eax7, &ebx7, &ecx7, &edx7)) ebx7 = ecx7 = 0;
  f.avx2 = avx && os_ymm && ((ebx7 >> 5) & 1);
  f.fma = avx && os_ymm && fma;
  f.f16c = avx && os_ymm && f16c;
  f.avx512f = os_zmm && ((ebx7 >> 16) & 1);
  f.avx512dq = f.avx512f && ((ebx7 >> 17) & 1);
  f.avx512bw = f.avx512f && ((ebx7 >> 30) & 1);
  f.avx512vl = f.avx512f && ((ebx7 >> 31) & 1);
  f.avx512vnni = f.avx512f && ((ecx7 >> 11) & 1);
#elif defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace whale
