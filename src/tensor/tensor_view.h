// A non-owning view of one tensor's bytes: pointer, type and shape in GGUF order (ne[0] is the
// row length, the fastest-varying dimension). Weights are viewed in the mmap'd file.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/dtype.h"

namespace whale {

struct TensorView {
  std::string name;
  GgmlType type = GgmlType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_size() const { return row_bytes(type, ne[0]); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_size(); }
  explicit operator bool() const { return data != nullptr; }
};

}  // namespace whale
