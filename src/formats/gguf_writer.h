// GGUF v3 writer (spec gguf-and-quants.md §1.9): metadata in insertion order, tensor infos,
// and tensor payloads in declaration order at the canonical offsets (each aligned to
// ALIGNMENT, zero padding after every payload), so the files load in llama.cpp.
//
// Payloads are streamed: a tensor is declared with its bytes (owned or borrowed) or with a fill
// callback, and nothing is materialised until write(). Writing goes through one bounded
// buffer (64 MiB by default) to `path.tmp`, which is renamed onto `path` only on success, so a
// failed write never leaves a truncated model behind.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/gguf.h"

namespace whale::gguf {

class GgufWriter {
 public:
  // Fill callback for a declared tensor: called one or more times, in order, with consecutive
  // chunks that together cover the whole payload; write exactly `nbytes` bytes to `dst`. Each
  // chunk holds whole rows (ne[0] elements) so a callback can quantise row by row; a chunk is
  // never larger than max(buffer size, one row).
  using Fill = std::function<void(uint8_t* dst, size_t nbytes)>;

  // `alignment` must be a power of two; values other than 32 are recorded in general.alignment.
  explicit GgufWriter(size_t alignment = 32);

  // Adds or replaces (keeping its position) a metadata pair. Nested arrays are refused unless
  // allow_nested_arrays(true) was called (llama.cpp cannot read them; tests of readers can).
  void set(const std::string& key, Value v);
  void set_string(const std::string& key, std::string v) { set(key, Value::make_string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, Value::make_uint(ValueType::UINT32, v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, Value::make_int(ValueType::INT32, v)); }
  void set_u64(const std::string& key, uint64_t v) { set(key, Value::make_uint(ValueType::UINT64, v)); }
  void set_f32(const std::string& key, float v) { set(key, Value::make_float(ValueType::FLOAT32, v)); }
  void set_bool(const std::string& key, bool v) { set(key, Value::make_bool(v)); }
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void allow_nested_arrays(bool allow) { allow_nested_ = allow; }

  // Declares a tensor. `ne` is in GGUF order (ne[0] = row length), 0 to 4 dims. Throws
  // whale::Error on a duplicate or over-long name, ne[0] not a multiple of the block size, a
  // wrong byte count or a non-GGUF type.
  void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                  std::vector<uint8_t> bytes);
  // As above, borrowing `data` (nbytes long), which must stay valid until write() returns.
  void add_tensor_ref(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                      const void* data, size_t nbytes);
  void add_tensor_fill(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                       Fill fill);

  size_t tensor_count() const { return tensors_.size(); }
  // Total size of the file write() would produce.
  uint64_t file_size() const;

  // Writes the file (via path.tmp + rename). general.quantization_version = 2 is added when a
  // quantised tensor is declared and the key is not set yet; general.alignment when it is not
  // 32. May be called more than once.
  void write(const std::filesystem::path& path, size_t buffer_bytes = size_t{64} << 20);
  // Whole file in memory (tests, fuzz seeds, small files).
  std::vector<uint8_t> write_to_memory();

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    int n_dims;
    std::array<int64_t, 4> ne;
    size_t nbytes;
    std::vector<uint8_t> owned;
    const uint8_t* ref = nullptr;
    Fill fill;
  };
  Tensor& declare(const std::string& name, GgmlType type, const std::vector<int64_t>& ne);
  std::vector<uint8_t> encode_header() const;
  template <class Sink> void stream(Sink& sink, size_t buffer_bytes);

  size_t alignment_;
  bool allow_nested_ = false;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace whale::gguf
