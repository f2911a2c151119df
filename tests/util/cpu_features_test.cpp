// cpu_features() against the kernel's own view of the CPU (/proc/cpuinfo "flags", Linux x86
// only): every flag we report must be one the kernel reports too (it also requires OS support
// of the register state, as we do), and vice versa.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "util/cpu_features.h"

namespace whale {
namespace {

std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(CpuFeatures, AgreesWithProcCpuinfo) {
#if !(defined(__x86_64__) && defined(__linux__))
  GTEST_SKIP() << "only checked on x86-64 Linux";
#endif
  const auto flags = proc_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "/proc/cpuinfo has no flags line";
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(f.avx2, flags.count("avx2") == 1);
  EXPECT_EQ(f.fma, flags.count("fma") == 1);
  EXPECT_EQ(f.f16c, flags.count("f16c") == 1);
  EXPECT_EQ(f.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") == 1);
  EXPECT_EQ(f.avx512vl, flags.count("avx512vl") == 1);
  EXPECT_EQ(f.avx512dq, flags.count("avx512dq") == 1);
  EXPECT_EQ(f.avx512vnni, flags.count("avx512_vnni") == 1);
  EXPECT_EQ(f.avx512bf16, flags.count("avx512_bf16") == 1);
  // The kernel lists amx_* only when it supports tile state, and then grants the permission.
  EXPECT_EQ(f.amx_bf16, flags.count("amx_bf16") == 1 && flags.count("amx_tile") == 1 && f.avx512bf16);
}

TEST(CpuFeatures, Avx512ExtensionsImplyFoundation) {
  const CpuFeatures& f = cpu_features();
  if (f.avx512bw || f.avx512vl || f.avx512dq || f.avx512vnni) {
    EXPECT_TRUE(f.avx512f);
  }
  EXPECT_EQ(&f, &cpu_features());  // detected once, then cached
}

}  // namespace
}  // namespace whale
