// GGUF reader: a single bounds-checked pass over the mapped file (spec gguf-and-quants.md §1).
// Every count is checked against the bytes left before anything is allocated, every size
// multiplication is overflow-checked, and every error names the file, the item and the value.
#include "formats/gguf.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "formats/byte_reader.h"
#include "formats/utf8.h"

namespace whale::gguf {
namespace {

using formats::ByteReader;

constexpr uint64_t kMaxI64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// Smallest possible encodings (spec §1.8 rule 2), used to reject absurd counts up front.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

std::string quoted(std::string_view s) {
  // Names may be arbitrary bytes when they fail validation: escape anything non-printable so
  // the message stays one readable line.
  std::string out = "\"";
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

class Parser {
 public:
  Parser(ByteReader& r) : r_(r) {}

  std::string read_string(const std::string& what) {
    const size_t at = r_.pos();
    const uint64_t len = r_.read<uint64_t>(what + " length");
    if (len > kMaxStringBytes)
      fail(r_.file(), ": ", what, ": string length ", len, " at offset ", at,
           " exceeds the 1 GiB limit");
    if (len > r_.left())
      fail(r_.file(), ": ", what, ": string length ", len, " at offset ", at, " exceeds the ",
           r_.left(), " bytes left in the file (truncated or corrupt)");
    return std::string(r_.bytes(len, what));
  }

  ValueType read_type(const std::string& what) {
    const size_t at = r_.pos();
    const uint32_t id = r_.read<uint32_t>(what + " type");
    if (id > static_cast<uint32_t>(ValueType::FLOAT64))
      fail(r_.file(), ": ", what, ": unknown value type id ", id, " at offset ", at,
           " (valid ids are 0-12)");
    return static_cast<ValueType>(id);
  }

  Value read_value(ValueType t, int depth, const std::string& what) {
    switch (t) {
      case ValueType::UINT8: return Value::make_uint(t, r_.read<uint8_t>(what));
      case ValueType::INT8: return Value::make_int(t, r_.read<int8_t>(what));
      case ValueType::UINT16: return Value::make_uint(t, r_.read<uint16_t>(what));
      case ValueType::INT16: return Value::make_int(t, r_.read<int16_t>(what));
      case ValueType::UINT32: return Value::make_uint(t, r_.read<uint32_t>(what));
      case ValueType::INT32: return Value::make_int(t, r_.read<int32_t>(what));
      case ValueType::UINT64: return Value::make_uint(t, r_.read<uint64_t>(what));
      case ValueType::INT64: return Value::make_int(t, r_.read<int64_t>(what));
      case ValueType::FLOAT32: return Value::make_float(t, r_.read<float>(what));
      case ValueType::FLOAT64: return Value::make_float(t, r_.read<double>(what));
      case ValueType::BOOL: {
        const size_t at = r_.pos();
        const uint8_t b = r_.read<uint8_t>(what);
        if (b > 1)
          fail(r_.file(), ": ", what, ": invalid BOOL byte ", int{b}, " at offset ", at,
               " (must be 0 or 1)");
        return Value::make_bool(b != 0);
      }
      case ValueType::STRING: return Value::make_string(read_string(what));
      case ValueType::ARRAY: return read_array(depth, what);
    }
    fail(r_.file(), ": ", what, ": unknown value type id ", static_cast<uint32_t>(t));
  }

  Value read_array(int depth, const std::string& what) {
    if (depth >= kMaxArrayDepth)
      fail(r_.file(), ": ", what, ": arrays nested deeper than ", kMaxArrayDepth,
           " levels at offset ", r_.pos());
    const ValueType elem = read_type(what + " element");
    const size_t at = r_.pos();
    const uint64_t count = r_.read<uint64_t>(what + " element count");
    if (count > kMaxArrayElements)
      fail(r_.file(), ": ", what, ": array element count ", count, " at offset ", at,
           " exceeds the limit of 2^30");
    // Smallest encoding of one element: a string is at least its 8-byte length, a nested
    // array at least its type and count.
    uint64_t min_elem = scalar_size(elem);
    if (elem == ValueType::STRING) min_elem = 8;
    if (elem == ValueType::ARRAY) min_elem = 12;
    if (count * min_elem > r_.left())  // count <= 2^30 and min_elem <= 12: no overflow
      fail(r_.file(), ": ", what, ": array of ", count, " ", value_type_name(elem),
           " elements at offset ", at, " needs at least ", count * min_elem, " bytes but only ",
           r_.left(), " remain (truncated or corrupt)");
    std::vector<Value> elems;
    elems.reserve(count);
    for (uint64_t i = 0; i < count; ++i)
      elems.push_back(read_value(elem, depth + 1, what + "[" + std::to_string(i) + "]"));
    return Value::make_array(elem, std::move(elems));
  }

 private:
  ByteReader& r_;
};

}  // namespace

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = path.string();
  f->map_ = std::make_unique<MappedFile>(path);
  f->data_ = f->map_->data();
  f->size_ = f->map_->size();
  f->parse_all();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = std::move(name);
  f->data_ = data;
  f->size_ = size;
  f->parse_all();
  return f;
}

void GgufFile::parse_all() {
  ByteReader r(data_, size_, name_);
  Parser p(r);

  // §1.1-1.2: magic, version, counts.
  if (size_ < 4 || std::string_view(reinterpret_cast<const char*>(data_), 4) != "GGUF") {
    std::string got = size_ < 4 ? std::string("(file shorter than 4 bytes)")
                                : quoted(std::string_view(reinterpret_cast<const char*>(data_), 4));
    fail(name_, ": not a GGUF file: bad magic ", got, " (expected \"GGUF\")");
  }
  r.bytes(4, "magic");
  version_ = r.read<uint32_t>("version");
  if (version_ == 1)
    fail(name_, ": GGUF version 1 is obsolete and not supported (re-convert the model with a "
                "current converter)");
  if (version_ != 0 && (version_ & 0xFFFF) == 0)
    fail(name_, ": byte-swapped/big-endian GGUF not supported (version field reads ", version_,
         ")");
  if (version_ == 0 || version_ > 3)
    fail(name_, ": unsupported GGUF version ", version_, " (whale reads versions 2 and 3)");
  const uint64_t n_tensors = r.read<uint64_t>("tensor_count");
  const uint64_t n_kv = r.read<uint64_t>("kv_count");
  if (n_tensors > kMaxI64) fail(name_, ": tensor_count ", n_tensors, " exceeds 2^63-1");
  if (n_kv > kMaxI64) fail(name_, ": kv_count ", n_kv, " exceeds 2^63-1");
  if (n_kv > r.left() / kMinKvBytes)
    fail(name_, ": kv_count ", n_kv, " is impossible: ", r.left(),
         " bytes left can hold at most ", r.left() / kMinKvBytes, " key/value pairs");
  if (n_tensors > (r.left() - n_kv * kMinKvBytes) / kMinTensorInfoBytes)
    fail(name_, ": tensor_count ", n_tensors, " is impossible: ", r.left(),
         " bytes left cannot hold that many tensor infos after ", n_kv, " key/value pairs");

  // §1.4: key/value pairs.
  kv_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t at = r.pos();
    std::string key = p.read_string(str_cat("kv #", i, " key"));
    if (key.empty()) fail(name_, ": kv #", i, ": empty key at offset ", at);
    if (size_t bad = formats::utf8_invalid_at(key); bad != key.size())
      fail(name_, ": kv #", i, ": key ", quoted(key), " at offset ", at,
           " is not valid UTF-8 (byte ", bad, ")");
    const std::string what = str_cat("kv #", i, " (key ", key, ")");
    if (kv_index_.count(key)) fail(name_, ": ", what, ": duplicate key at offset ", at);
    const ValueType t = p.read_type(what);
    Value v = p.read_value(t, 0, what);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }

  // §1.6 / §1.8 rule 5: alignment, applied once all pairs are known.
  if (const Value* a = find("general.alignment")) {
    if (a->type() != ValueType::UINT32)
      fail(name_, ": key general.alignment has type ", value_type_name(a->type()),
           " (must be UINT32)");
    const uint64_t al = a->as<uint64_t>();
    if (al == 0 || (al & (al - 1)) != 0)
      fail(name_, ": key general.alignment = ", al, " is not a non-zero power of two");
    alignment_ = static_cast<size_t>(al);
  }

  // §1.5: tensor infos.
  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = r.pos();
    TensorInfo t;
    t.name = p.read_string(str_cat("tensor #", i, " name"));
    if (t.name.empty()) fail(name_, ": tensor #", i, ": empty name at offset ", at);
    if (t.name.size() > kMaxTensorNameBytes)
      fail(name_, ": tensor #", i, ": name ", quoted(t.name), " is ", t.name.size(),
           " bytes long (maximum ", kMaxTensorNameBytes, ")");
    if (size_t bad = formats::utf8_invalid_at(t.name); bad != t.name.size())
      fail(name_, ": tensor #", i, ": name ", quoted(t.name), " at offset ", at,
           " is not valid UTF-8 (byte ", bad, ")");
    const std::string what = str_cat("tensor ", t.name);
    if (tensor_index_.count(t.name)) fail(name_, ": ", what, ": duplicate tensor name");
    const uint32_t n_dims = r.read<uint32_t>(what + " n_dims");
    if (n_dims > 4) fail(name_, ": ", what, ": n_dims ", n_dims, " exceeds the maximum of 4");
    t.n_dims = static_cast<int>(n_dims);
    for (uint32_t j = 0; j < n_dims; ++j) {
      const uint64_t ne = r.read<uint64_t>(what + " ne");
      if (ne > kMaxI64) fail(name_, ": ", what, ": ne[", j, "] = ", ne, " exceeds 2^63-1");
      t.ne[j] = static_cast<int64_t>(ne);
    }
    const size_t type_at = r.pos();
    const uint32_t type_id = r.read<uint32_t>(what + " type");
    const auto tr = type_traits(type_id);
    // F8_E4M3 has an id of whale's own (safetensors only); it is not a GGUF type.
    if (!tr || tr->block_size <= 0 || type_id == static_cast<uint32_t>(GgmlType::F8_E4M3))
      fail(name_, ": unsupported tensor type ", type_id, " for tensor ", t.name, " at offset ",
           type_at);
    t.type = static_cast<GgmlType>(type_id);
    if (t.ne[0] % tr->block_size != 0)
      fail(name_, ": ", what, ": ne[0] = ", t.ne[0], " is not a multiple of the ", tr->name,
           " block size ", tr->block_size);
    uint64_t n = static_cast<uint64_t>(t.ne[0]) / tr->block_size;
    uint64_t bytes = 0;
    bool overflow = mul_overflows(n, tr->type_size, &bytes);
    uint64_t elems = static_cast<uint64_t>(t.ne[0]);
    for (int j = 1; j < 4; ++j) {
      overflow = overflow || mul_overflows(bytes, static_cast<uint64_t>(t.ne[j]), &bytes);
      overflow = overflow || mul_overflows(elems, static_cast<uint64_t>(t.ne[j]), &elems);
    }
    if (overflow || elems > kMaxI64)
      fail(name_, ": ", what, ": size of shape [", t.ne[0], ", ", t.ne[1], ", ", t.ne[2], ", ",
           t.ne[3], "] overflows 64 bits");
    t.nbytes = static_cast<size_t>(bytes);
    t.offset = r.read<uint64_t>(what + " offset");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  header_end_ = r.pos();

  // §1.6: data section. With no tensors llama.cpp's reader skips the padding and its writer
  // does not: accept a file that ends before the padded data start.
  data_offset_ = header_end_ + (alignment_ - header_end_ % alignment_) % alignment_;
  if (data_offset_ > size_) {
    if (!tensors_.empty())
      fail(name_, ": truncated file: data section would start at offset ", data_offset_,
           " but the file has ", size_, " bytes");
    data_offset_ = size_;
  }

  // §1.8 rule 8: offsets aligned, in bounds, not overlapping.
  const uint64_t data_bytes = size_ - data_offset_;
  uint64_t expected = 0;
  for (const auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail(name_, ": tensor ", t.name, ": offset ", t.offset, " is not a multiple of the ",
           "alignment ", alignment_);
    if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset)
      fail(name_, ": tensor ", t.name, ": data [", t.offset, ", +", t.nbytes,
           ") out of file bounds / truncated file (data section holds ", data_bytes,
           " bytes from offset ", data_offset_, ", file size ", size_, ")");
    if (canonical_ && t.offset != expected) {
      canonical_ = false;
      warnings_.push_back(str_cat(name_, ": tensor ", t.name, " at offset ", t.offset,
                                  " instead of the canonical ", expected,
                                  "; llama.cpp would refuse this file"));
    }
    expected = t.offset + t.nbytes + (alignment_ - t.nbytes % alignment_) % alignment_;
  }
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  const TensorInfo* prev = nullptr;
  for (size_t idx : order) {
    const TensorInfo& t = tensors_[idx];
    if (t.nbytes == 0) continue;
    if (prev && prev->offset + prev->nbytes > t.offset)
      fail(name_, ": tensor ", t.name, ": data at offset ", t.offset, " overlaps tensor ",
           prev->name, " (offset ", prev->offset, ", ", prev->nbytes, " bytes)");
    prev = &t;
  }
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

template <class T>
T GgufFile::get(std::string_view key) const {
  const Value* v = find(key);
  if (!v) fail(name_, ": missing key ", key);
  return v->as<T>(str_cat(name_, ": key ", key));
}

template <class T>
std::optional<T> GgufFile::get_optional(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return v->as<T>(str_cat(name_, ": key ", key));
}

template <class T>
std::vector<T> GgufFile::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) fail(name_, ": missing key ", key);
  if (v->type() != ValueType::ARRAY)
    fail(name_, ": key ", key, ": expected an array, found ", value_type_name(v->type()));
  std::vector<T> out;
  out.reserve(v->array().size());
  for (size_t i = 0; i < v->array().size(); ++i)
    out.push_back(v->array()[i].as<T>(str_cat(name_, ": key ", key, "[", i, "]")));
  return out;
}

#define WHALE_GGUF_INSTANTIATE(T)                                              \
  template T GgufFile::get<T>(std::string_view) const;                         \
  template std::optional<T> GgufFile::get_optional<T>(std::string_view) const; \
  template std::vector<T> GgufFile::get_array<T>(std::string_view) const;
WHALE_GGUF_INSTANTIATE(uint8_t)
WHALE_GGUF_INSTANTIATE(int8_t)
WHALE_GGUF_INSTANTIATE(uint16_t)
WHALE_GGUF_INSTANTIATE(int16_t)
WHALE_GGUF_INSTANTIATE(uint32_t)
WHALE_GGUF_INSTANTIATE(int32_t)
WHALE_GGUF_INSTANTIATE(uint64_t)
WHALE_GGUF_INSTANTIATE(int64_t)
WHALE_GGUF_INSTANTIATE(float)
WHALE_GGUF_INSTANTIATE(double)
WHALE_GGUF_INSTANTIATE(bool)
WHALE_GGUF_INSTANTIATE(std::string)
#undef WHALE_GGUF_INSTANTIATE

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::view(const TensorInfo& info) const {
  TensorView v;
  v.name = info.name;
  v.type = info.type;
  v.n_dims = info.n_dims;
  v.ne = info.ne;
  v.data = data_ + data_offset_ + info.offset;
  v.nbytes = info.nbytes;
  return v;
}

TensorView GgufFile::view(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) fail(name_, ": tensor ", name, " not found");
  return view(*t);
}

}  // namespace whale::gguf
