// Uninitialised 64-byte aligned arrays for kernel scratch: tile loads and zmm loads then read
// whole cache lines, and nothing is spent zero-filling memory the kernels overwrite.
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>

namespace whale::kernels {

template <class T>
struct AlignedDelete {
  void operator()(T* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
template <class T>
using AlignedArray = std::unique_ptr<T[], AlignedDelete<T>>;

template <class T>
AlignedArray<T> aligned_array(size_t n) {
  return AlignedArray<T>(static_cast<T*>(::operator new[](std::max<size_t>(n, 1) * sizeof(T), std::align_val_t{64})));
}

}  // namespace whale::kernels
