// GGUF reader (versions 2 and 3, little-endian) over a memory map, and its metadata values.
// Spec: ../shared/specs/gguf-and-quants.md §1. Every malformed input throws whale::Error with a
// message naming the file, the offending item and its value; nothing here crashes on bad bytes.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor_view.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace whale::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

// Nested arrays (arrays of arrays) are parsed up to this depth; llama.cpp cannot read them at
// all and whale's writer refuses them unless explicitly allowed.
inline constexpr int kMaxArrayDepth = 8;
// Caps from llama.cpp's reader (spec §1.8): one string <= 1 GiB, one array <= 2^30 elements.
inline constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMaxArrayElements = uint64_t{1} << 30;
inline constexpr size_t kMaxTensorNameBytes = 63;
// Size in bytes of one scalar of type t (0 for STRING and ARRAY, whose size varies).
size_t scalar_size(ValueType t);

// One metadata value. Scalars are held widened (integers in i64/u64, floats in double) with
// their original type kept; arrays hold their element type and elements (nested arrays allowed).
class Value {
 public:
  Value() = default;
  static Value make_uint(ValueType t, uint64_t v);
  static Value make_int(ValueType t, int64_t v);
  static Value make_float(ValueType t, double v);
  static Value make_bool(bool v);
  static Value make_string(std::string v);
  static Value make_array(ValueType elem_type, std::vector<Value> elems);

  ValueType type() const { return type_; }
  ValueType elem_type() const { return elem_type_; }  // for ARRAY
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Typed access. Integer targets accept any integer value that fits (else Error); float
  // targets accept floats and integers; bool accepts BOOL only; strings STRING only.
  // `what` names the key in error messages.
  template <class T> T as(std::string_view what = "value") const;

  const std::string& str() const { return str_; }
  const std::vector<Value>& array() const { return array_; }

 private:
  ValueType type_ = ValueType::UINT8;
  ValueType elem_type_ = ValueType::UINT8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string str_;
  std::vector<Value> array_;
};

struct TensorInfo {
  std::string name;
  int n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};  // GGUF order, ne[0] fastest
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // relative to the data section
  size_t nbytes = 0;
};

class GgufFile {
 public:
  // Maps and parses the file; throws whale::Error on any violation of spec §1.8.
  static std::unique_ptr<GgufFile> open(const std::filesystem::path& path);
  // Parses an in-memory buffer (fuzzing, tests); `name` is used in error messages. The buffer
  // must outlive the object.
  static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, std::string name);

  const std::string& name() const { return name_; }  // file path as given
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: get<uint32_t>("deepseek2.block_count"). Throw whale::Error naming the file and
  // key when missing or of the wrong type / out of range for T.
  template <class T> T get(std::string_view key) const;
  template <class T> std::optional<T> get_optional(std::string_view key) const;
  template <class T> T get_or(std::string_view key, T fallback) const {
    auto v = get_optional<T>(key);
    return v ? *v : fallback;
  }
  // Array of scalars (T as for Value::as) or strings (T = std::string).
  template <class T> std::vector<T> get_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // View of a tensor's bytes in the map.
  TensorView view(const TensorInfo& info) const;
  // View by name; throws naming the file and tensor when absent.
  TensorView view(std::string_view name) const;

  // Byte offset just past the last tensor info record (before the alignment padding).
  size_t header_end() const { return header_end_; }
  // False when tensor offsets deviate from the canonical running sum of spec §1.6 (whale reads
  // such files, llama.cpp refuses them); warnings() then says which tensor deviates.
  bool canonical_layout() const { return canonical_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  GgufFile() = default;
  void parse_all();

  std::string name_;
  std::unique_ptr<MappedFile> map_;  // null when parsing a caller's buffer
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  size_t header_end_ = 0;
  bool canonical_ = true;
  std::vector<std::string> warnings_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace whale::gguf
