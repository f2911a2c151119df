// Hugging Face safetensors checkpoints (spec deepseek-arch.md §4.1-4.2): one file, or shards
// listed by model.safetensors.index.json. Every shard is mmap'd and tensors are viewed in
// place. Headers are validated fully at open (header length, JSON shape, known dtypes, offsets
// inside the data buffer, sizes = numel * dtype size, no overlapping ranges); any violation
// throws whale::Error naming the file, the tensor and the value.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor_view.h"
#include "util/mapped_file.h"

namespace whale::safetensors {

enum class Dtype {
  BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2, F8_E8M0,
};
std::string_view dtype_name(Dtype d);
size_t dtype_size(Dtype d);
std::optional<Dtype> dtype_from_name(std::string_view s);
// The tensor type a view of this dtype gets (F32, F16, BF16, F8_E4M3, I8..I64, F64); nullopt for
// dtypes whale only lists (BOOL, U8, unsigned ints, other FP8 flavours).
std::optional<GgmlType> ggml_type(Dtype d);

// Upper bound on the JSON header (the safetensors reference implementation uses the same).
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // PyTorch order (shape.back() is contiguous); [] for a scalar
  uint64_t begin = 0;          // byte range relative to the file's data buffer
  uint64_t end = 0;
  size_t shard = 0;            // index into Checkpoint::shards()

  uint64_t nbytes() const { return end - begin; }
  int64_t n_elements() const;
  // GGUF-order dims: ne[0] = shape.back(); missing dims are 1.
  std::vector<int64_t> ne() const;
};

// One .safetensors file.
class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Parses a caller's buffer (fuzzing, tests); it must outlive the object.
  static std::unique_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size,
                                                std::string name);

  const std::string& name() const { return name_; }
  size_t file_size() const { return size_; }
  size_t data_offset() const { return data_offset_; }  // 8 + header length
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // In header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  const uint8_t* data(const TensorInfo& t) const { return data_ + data_offset_ + t.begin; }
  // View in GGUF dim order; throws for dtypes without a tensor type or more than 4 dims.
  TensorView view(const TensorInfo& t) const;

 private:
  SafetensorsFile() = default;
  void parse_header();

  std::string name_;
  std::unique_ptr<MappedFile> map_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t data_offset_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// A whole checkpoint: a single file or the shards of an index. Thread-safe for reading.
class Checkpoint {
 public:
  // `path`: a .safetensors file, a *.safetensors.index.json, or a folder holding
  // model.safetensors.index.json or model.safetensors. Shard names come from the index's
  // weight_map (never derived); every mapped tensor must exist in its shard.
  static std::unique_ptr<Checkpoint> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  bool sharded() const { return sharded_; }
  // Every tensor of every shard, shard by shard in header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  const TensorInfo& get(std::string_view name) const;  // throws when absent
  TensorView view(const TensorInfo& t) const { return shards_[t.shard]->view(t); }
  TensorView view(std::string_view name) const { return view(get(name)); }
  const uint8_t* data(const TensorInfo& t) const { return shards_[t.shard]->data(t); }

  // The FP8 block-scale partner "<name>_scale_inv" (spec §4.4), possibly in another shard.
  const TensorInfo* scale_inv(std::string_view name) const;
  // True when `name` is F8_E4M3 and has a scale_inv partner.
  bool is_fp8_block_scaled(std::string_view name) const;

 private:
  Checkpoint() = default;
  void add_shard(std::unique_ptr<SafetensorsFile> f);

  std::filesystem::path path_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace whale::safetensors
