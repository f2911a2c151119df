#include "util/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstdint>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
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

// Linux gives a process the (8 KB) AMX tile state only on request; without it the first tile
// instruction faults. Returns whether the request was granted (always false off Linux).
bool request_amx_permission() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;  // from <asm/prctl.h>
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
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
  unsigned eax71 = 0, ebx71 = 0, ecx71 = 0, edx71 = 0;
  if (eax7 >= 1 && __get_cpuid_count(7, 1, &eax71, &ebx71, &ecx71, &edx71))
    f.avx512bf16 = f.avx512f && ((eax71 >> 5) & 1);
  // EDX bits 22 (AMX-BF16) and 24 (AMX-TILE); XCR0 bits 17, 18 (tile config and tile data).
  const bool amx_cpu = ((edx7 >> 22) & 1) && ((edx7 >> 24) & 1);
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  f.amx_bf16 = amx_cpu && os_amx && f.avx512bf16 && request_amx_permission();
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
