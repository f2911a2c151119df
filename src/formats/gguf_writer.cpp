#include "formats/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "formats/utf8.h"

namespace whale::gguf {
namespace {

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_value(std::vector<uint8_t>& out, const Value& v, ValueType t) {
  switch (t) {
    case ValueType::UINT8: put(out, v.as<uint8_t>()); break;
    case ValueType::INT8: put(out, v.as<int8_t>()); break;
    case ValueType::UINT16: put(out, v.as<uint16_t>()); break;
    case ValueType::INT16: put(out, v.as<int16_t>()); break;
    case ValueType::UINT32: put(out, v.as<uint32_t>()); break;
    case ValueType::INT32: put(out, v.as<int32_t>()); break;
    case ValueType::UINT64: put(out, v.as<uint64_t>()); break;
    case ValueType::INT64: put(out, v.as<int64_t>()); break;
    case ValueType::FLOAT32: put(out, v.as<float>()); break;
    case ValueType::FLOAT64: put(out, v.as<double>()); break;
    case ValueType::BOOL: put<uint8_t>(out, v.as<bool>() ? 1 : 0); break;
    case ValueType::STRING: put_string(out, v.str()); break;
    case ValueType::ARRAY:
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type()));
      put<uint64_t>(out, v.array().size());
      for (const auto& e : v.array()) {
        if (e.type() != v.elem_type())
          fail("GGUF writer: array element of type ", value_type_name(e.type()),
               " in an array of ", value_type_name(v.elem_type()));
        if (e.type() == ValueType::ARRAY) {
          put_value(out, e, ValueType::ARRAY);
        } else {
          put_value(out, e, e.type());
        }
      }
      break;
  }
}

bool has_nested_array(const Value& v) {
  return v.type() == ValueType::ARRAY && v.elem_type() == ValueType::ARRAY;
}

bool is_quantized(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::F64:
    case GgmlType::I8: case GgmlType::I16: case GgmlType::I32: case GgmlType::I64:
      return false;
    default:
      return true;
  }
}

size_t pad_to(uint64_t n, size_t alignment) { return (alignment - n % alignment) % alignment; }

// Where stream() sends bytes: a file descriptor or a memory buffer.
struct FdSink {
  int fd;
  const std::string& path;
  void write(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(path, ": write failed: ", std::strerror(errno));
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
};

struct MemorySink {
  std::vector<uint8_t>& out;
  void write(const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); }
};

}  // namespace

GgufWriter::GgufWriter(size_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
      alignment > std::numeric_limits<uint32_t>::max())
    fail("GGUF writer: alignment ", alignment, " is not a power of two that fits in u32");
  if (alignment != 32)
    set("general.alignment", Value::make_uint(ValueType::UINT32, alignment));
}

void GgufWriter::set(const std::string& key, Value v) {
  if (key.empty()) fail("GGUF writer: empty metadata key");
  if (!formats::is_valid_utf8(key)) fail("GGUF writer: metadata key ", key, " is not UTF-8");
  if (has_nested_array(v) && !allow_nested_)
    fail("GGUF writer: key ", key, ": nested arrays are not readable by llama.cpp");
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_strings(const std::string& key, const std::vector<std::string>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (const auto& s : v) e.push_back(Value::make_string(s));
  set(key, Value::make_array(ValueType::STRING, std::move(e)));
}

void GgufWriter::set_f32s(const std::string& key, const std::vector<float>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (float f : v) e.push_back(Value::make_float(ValueType::FLOAT32, f));
  set(key, Value::make_array(ValueType::FLOAT32, std::move(e)));
}

void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (int32_t i : v) e.push_back(Value::make_int(ValueType::INT32, i));
  set(key, Value::make_array(ValueType::INT32, std::move(e)));
}

GgufWriter::Tensor& GgufWriter::declare(const std::string& name, GgmlType type,
                                        const std::vector<int64_t>& ne) {
  if (name.empty() || name.size() > kMaxTensorNameBytes)
    fail("GGUF writer: tensor name \"", name, "\" must be 1-", kMaxTensorNameBytes, " bytes");
  if (!formats::is_valid_utf8(name)) fail("GGUF writer: tensor name ", name, " is not UTF-8");
  if (tensor_index_.count(name)) fail("GGUF writer: duplicate tensor ", name);
  if (ne.size() > 4) fail("GGUF writer: tensor ", name, ": ", ne.size(), " dims (maximum 4)");
  const auto tr = type_traits(static_cast<uint32_t>(type));
  if (!tr || type == GgmlType::F8_E4M3)
    fail("GGUF writer: tensor ", name, ": type ", static_cast<uint32_t>(type),
         " cannot be stored in GGUF");
  Tensor t;
  t.name = name;
  t.type = type;
  t.ne = {1, 1, 1, 1};
  t.n_dims = 1;
  for (size_t j = 0; j < ne.size(); ++j) {
    if (ne[j] < 0) fail("GGUF writer: tensor ", name, ": ne[", j, "] = ", ne[j], " is negative");
    t.ne[j] = ne[j];
    // Trailing 1s are dropped (spec §1.5); a 0 is kept so the tensor stays empty.
    if (ne[j] != 1) t.n_dims = static_cast<int>(j) + 1;
  }
  if (t.ne[0] % tr->block_size != 0)
    fail("GGUF writer: tensor ", name, ": ne[0] = ", t.ne[0], " is not a multiple of the ",
         tr->name, " block size ", tr->block_size);
  uint64_t bytes = static_cast<uint64_t>(t.ne[0] / tr->block_size) * tr->type_size;
  for (int j = 1; j < 4; ++j) {
    const auto d = static_cast<uint64_t>(t.ne[j]);
    if (d != 0 && bytes > std::numeric_limits<uint64_t>::max() / d)
      fail("GGUF writer: tensor ", name, ": byte size overflows");
    bytes *= d;
  }
  t.nbytes = static_cast<size_t>(bytes);
  // Spec §1.9 step 4; added at declaration so file_size() is exact before write().
  bool has_qv = false;
  for (const auto& kv : kv_) has_qv = has_qv || kv.first == "general.quantization_version";
  if (is_quantized(type) && !has_qv)
    set("general.quantization_version", Value::make_uint(ValueType::UINT32, 2));
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back(std::move(t));
  return tensors_.back();
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type,
                            const std::vector<int64_t>& ne, std::vector<uint8_t> bytes) {
  Tensor& t = declare(name, type, ne);
  if (bytes.size() != t.nbytes) {
    const size_t want = t.nbytes;
    tensors_.pop_back();
    tensor_index_.erase(name);
    fail("GGUF writer: tensor ", name, ": ", bytes.size(), " bytes given, shape needs ", want);
  }
  t.owned = std::move(bytes);  // stream() reads owned bytes directly: no pointer to go stale
}

void GgufWriter::add_tensor_ref(const std::string& name, GgmlType type,
                                const std::vector<int64_t>& ne, const void* data,
                                size_t nbytes) {
  Tensor& t = declare(name, type, ne);
  if (nbytes != t.nbytes || (data == nullptr && nbytes != 0)) {
    const size_t want = t.nbytes;
    tensors_.pop_back();
    tensor_index_.erase(name);
    fail("GGUF writer: tensor ", name, ": ", nbytes, " bytes given, shape needs ", want);
  }
  t.ref = static_cast<const uint8_t*>(data);
}

void GgufWriter::add_tensor_fill(const std::string& name, GgmlType type,
                                 const std::vector<int64_t>& ne, Fill fill) {
  if (!fill) fail("GGUF writer: tensor ", name, ": empty fill callback");
  declare(name, type, ne).fill = std::move(fill);
}


std::vector<uint8_t> GgufWriter::encode_header() const {
  std::vector<uint8_t> out;
  out.insert(out.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, v] : kv_) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(v.type()));
    put_value(out, v, v.type());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.n_dims));
    for (int j = 0; j < t.n_dims; ++j) put<uint64_t>(out, static_cast<uint64_t>(t.ne[j]));
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offset += t.nbytes + pad_to(t.nbytes, alignment_);
  }
  out.resize(out.size() + pad_to(out.size(), alignment_), 0);
  return out;
}

uint64_t GgufWriter::file_size() const {
  uint64_t n = encode_header().size();
  for (const auto& t : tensors_) n += t.nbytes + pad_to(t.nbytes, alignment_);
  return n;
}

template <class Sink>
void GgufWriter::stream(Sink& sink, size_t buffer_bytes) {
  buffer_bytes = std::max<size_t>(buffer_bytes, 1);
  std::vector<uint8_t> buf = encode_header();
  size_t used = buf.size();
  if (buf.size() < buffer_bytes) buf.resize(buffer_bytes);
  auto flush = [&] {
    sink.write(buf.data(), used);
    used = 0;
  };
  auto reserve = [&](size_t n) {  // room for n more bytes in buf
    if (buf.size() - used < n) flush();
    if (buf.size() < n) buf.resize(n);
  };
  for (auto& t : tensors_) {
    if (t.fill) {
      const size_t row = row_bytes(t.type, t.ne[0]);
      const uint64_t rows = row == 0 ? 0 : t.nbytes / row;
      const uint64_t per_chunk = std::max<uint64_t>(1, buffer_bytes / std::max<size_t>(row, 1));
      for (uint64_t r = 0; r < rows; r += per_chunk) {
        const size_t n = static_cast<size_t>(std::min(per_chunk, rows - r) * row);
        reserve(n);
        t.fill(buf.data() + used, n);
        used += n;
      }
    } else if (t.nbytes >= buffer_bytes / 4) {
      flush();  // large payloads go straight from the caller's memory to the file
      sink.write(t.owned.empty() ? t.ref : t.owned.data(), t.nbytes);
    } else if (t.nbytes > 0) {
      reserve(t.nbytes);
      std::memcpy(buf.data() + used, t.owned.empty() ? t.ref : t.owned.data(), t.nbytes);
      used += t.nbytes;
    }
    const size_t pad = pad_to(t.nbytes, alignment_);
    reserve(pad);
    std::memset(buf.data() + used, 0, pad);
    used += pad;
  }
  flush();
}

void GgufWriter::write(const std::filesystem::path& path, size_t buffer_bytes) {
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, ": cannot create: ", std::strerror(errno));
  try {
    FdSink sink{fd, tmp};
    stream(sink, buffer_bytes);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(tmp, ": close failed: ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(path.string(), ": cannot rename ", tmp, " onto it: ", std::strerror(err));
  }
}

std::vector<uint8_t> GgufWriter::write_to_memory() {
  std::vector<uint8_t> out;
  MemorySink sink{out};
  stream(sink, size_t{1} << 20);
  return out;
}

}  // namespace whale::gguf
