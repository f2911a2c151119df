// ggml tensor types as stored in GGUF (ids fixed by mainline ggml; spec gguf-and-quants.md §2.1)
// and their block traits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace whale {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // Not a GGUF type: DeepSeek's FP8 E4M3 ("e4m3fn") from safetensors checkpoints, one byte per
  // element, scaled by a separate 128x128 block-scale tensor. Chosen outside ggml's id range.
  F8_E4M3 = 1000,
};

struct TypeTraits {
  std::string_view name;  // "Q4_K", as llama.cpp prints it
  int block_size = 0;     // elements per block
  int type_size = 0;      // bytes per block
  bool dequantizable = false;  // whale can turn it into floats
};

// Traits of a known type; nullopt for ids that are unknown, removed or reserved.
std::optional<TypeTraits> type_traits(uint32_t id);
// Traits of a valid enum value (asserts it is known).
const TypeTraits& traits(GgmlType t);

inline std::string_view type_name(GgmlType t) { return traits(t).name; }
// Parses "Q4_K", "q4_k", "f16" ...; nullopt if unknown.
std::optional<GgmlType> type_from_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size.
inline size_t row_bytes(GgmlType t, int64_t n) {
  const auto& tr = traits(t);
  return static_cast<size_t>(n / tr.block_size) * static_cast<size_t>(tr.type_size);
}

}  // namespace whale
