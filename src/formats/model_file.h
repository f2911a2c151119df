// One description of "a model path" whatever its format: a .gguf file, a .safetensors file, or
// a Hugging Face checkpoint folder (config.json + one or more shards). Used by `whale info`.
// Describing reads headers only, never tensor data, so it is fast on files of any size.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace whale::formats {

struct TensorSummary {
  std::string name;
  std::string type;            // "Q4_K", "BF16", "F8_E4M3", "U8", ...
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the row length (ne[0])
  uint64_t offset = 0;         // GGUF: relative to the data section; safetensors: to the shard's data buffer
  uint64_t nbytes = 0;
  std::string file;            // the shard holding it (HF checkpoints), else empty
};

struct ModelSummary {
  std::string path;
  std::string format;        // "gguf", "safetensors", "hf-checkpoint"
  std::string architecture;  // GGUF arch name ("deepseek2", "llama", "qwen2"...) when known
  uint32_t gguf_version = 0;
  uint64_t file_bytes = 0;   // all files together
  nlohmann::ordered_json hyperparameters = nlohmann::ordered_json::object();
  // GGUF: every key -> value, arrays longer than kMaxListedArray summarised as
  // {"type":"array","elem_type":"STRING","length":N}; HF: config.json; safetensors: __metadata__.
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();
  nlohmann::ordered_json tokenizer;  // null when the file has no tokenizer keys
  std::vector<TensorSummary> tensors;
  uint64_t parameter_count = 0;
  std::map<std::string, uint64_t> bytes_per_type;
  std::map<std::string, uint64_t> tensors_per_type;
  // KV cache values per token over all layers (deepseek2: latent kv_lora + rope per layer;
  // GQA models: 2 * kv_heads * head_dim per layer); nullopt when not derivable.
  std::optional<uint64_t> kv_values_per_token;
  std::optional<uint64_t> kv_values_per_token_per_layer;
  std::vector<std::string> warnings;
};

inline constexpr size_t kMaxListedArray = 64;

// Throws whale::Error for unreadable or malformed inputs (naming the file and the item).
ModelSummary describe_model(const std::filesystem::path& path);

nlohmann::ordered_json to_json(const ModelSummary& s);

}  // namespace whale::formats
