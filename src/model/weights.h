// Where a model's weights come from. The forward pass asks for tensors by their GGUF names and
// gets views in GGUF shape order (ne[0] = row length), whether the file is a GGUF or a Hugging
// Face checkpoint (whose names and shapes are translated here). Views point into the mmap'd
// files; the few tensors that need conversion at load (FP8 weights with block scales, norms
// stored as bf16, legacy kv_b transposes) are held in buffers owned by the source.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace whale::gguf {
class GgufFile;
}

namespace whale::model {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The file or folder, for error messages.
  virtual const std::string& name() const = 0;
  // A tensor by GGUF name; nullopt if absent.
  virtual std::optional<TensorView> find(const std::string& gguf_name) = 0;
  // Expert `e`'s [out, in] matrix of kind "gate", "up" or "down" in layer `layer`, as a 2-D view.
  virtual std::optional<TensorView> find_expert(int layer, const std::string& kind, int e) = 0;
  // Total bytes of all weights.
  virtual uint64_t total_bytes() const = 0;

  // find(), or throws whale::Error "MODEL: missing tensor NAME".
  TensorView require(const std::string& gguf_name);
  TensorView require_expert(int layer, const std::string& kind, int e);

  // Keeps converted data alive as long as the source; returns a view of it.
  TensorView own_f32(std::string name, std::vector<float> values, std::array<int64_t, 4> ne, int n_dims);
  TensorView own_bytes(std::string name, GgmlType type, std::vector<uint8_t> bytes,
                       std::array<int64_t, 4> ne, int n_dims);

 private:
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned_;
};

// A 1-D (or any) tensor as f32 values, whatever its stored type.
std::vector<float> to_f32(const TensorView& t);

// Rows [first, first + count) of a 2-D view, as a 2-D view.
TensorView row_slice(const TensorView& t, int64_t first, int64_t count);

std::unique_ptr<WeightSource> gguf_weights(const gguf::GgufFile& file);
// A Hugging Face checkpoint folder (config.json + model.safetensors or sharded with index).
std::unique_ptr<WeightSource> hf_weights(const std::filesystem::path& folder, int n_layers);

}  // namespace whale::model
