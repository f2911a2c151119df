// The kernel tables this CPU can run, for tests that compare them: the scalar reference first,
// then the AVX2 and AVX-512 VNNI tables where the CPU has them.
#pragma once
#include <vector>

#include "kernels/kernel_table.h"

namespace whale::kernels::testing {

inline std::vector<const KernelTable*> all_tables() {
  std::vector<const KernelTable*> t{&scalar_table()};
  if (const KernelTable* avx2 = avx2_table()) t.push_back(avx2);
  if (const KernelTable* avx512 = avx512_table()) t.push_back(avx512);
  return t;
}

}  // namespace whale::kernels::testing
