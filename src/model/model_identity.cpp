#include "model/model_identity.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "formats/gguf.h"
#include "util/error.h"
#include "util/hash64.h"

namespace whale::model {
namespace {

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool is_unsigned(gguf::ValueType t) {
  using T = gguf::ValueType;
  return t == T::UINT8 || t == T::UINT16 || t == T::UINT32 || t == T::UINT64;
}

void add_value(Hasher64& h, const gguf::Value& v) {
  using T = gguf::ValueType;
  h.add_u64(static_cast<uint64_t>(v.type()));
  switch (v.type()) {
    case T::STRING: h.add_string(v.str()); return;
    case T::ARRAY:
      h.add_u64(static_cast<uint64_t>(v.elem_type()));
      h.add_u64(v.array().size());
      for (const auto& e : v.array()) add_value(h, e);
      return;
    case T::BOOL: h.add_u64(v.as<bool>() ? 1 : 0); return;
    case T::FLOAT32:
    case T::FLOAT64: {
      const double d = v.as<double>();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      h.add_u64(bits);
      return;
    }
    default:
      h.add_u64(is_unsigned(v.type()) ? v.as<uint64_t>() : static_cast<uint64_t>(v.as<int64_t>()));
      return;
  }
}

std::string gguf_identity(const std::filesystem::path& path) {
  auto f = gguf::GgufFile::open(path);
  Hasher64 h(0x77686c2d67677566ull);  // "whl-gguf"
  h.add_u64(f->version());
  h.add_u64(f->metadata().size());
  for (const auto& [key, value] : f->metadata()) {
    h.add_string(key);
    add_value(h, value);
  }
  h.add_u64(f->tensors().size());
  for (const auto& t : f->tensors()) {
    h.add_string(t.name);
    h.add_u64(static_cast<uint64_t>(t.type));
    for (int64_t d : t.ne) h.add_u64(static_cast<uint64_t>(d));
    h.add_u64(t.offset);
    h.add_u64(t.nbytes);
    const TensorView view = f->view(t);
    const size_t n = std::min<size_t>(64, view.nbytes);
    h.add_bytes(view.data, n);
    h.add_bytes(view.data + view.nbytes - n, n);
  }
  return "gguf-" + hex16(h.digest());
}

// Appends up to `n` bytes at `offset` of an open stream to the hash.
void add_file_range(Hasher64& h, std::ifstream& in, uint64_t offset, uint64_t n) {
  std::vector<char> buf(n);
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(buf.data(), static_cast<std::streamsize>(n));
  h.add_bytes(buf.data(), static_cast<size_t>(in.gcount()));
}

std::string hf_identity(const std::filesystem::path& dir) {
  const auto cfg = dir / "config.json";
  std::ifstream c(cfg, std::ios::binary);
  if (!c) fail(dir.string(), ": not a GGUF file and no config.json in the folder");
  Hasher64 h(0x77686c2d68662d2dull);  // "whl-hf--"
  add_file_range(h, c, 0, std::filesystem::file_size(cfg));
  std::vector<std::filesystem::path> shards;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") shards.push_back(e.path());
  std::sort(shards.begin(), shards.end());
  constexpr uint64_t kSample = 4096;
  for (const auto& p : shards) {
    const uint64_t size = std::filesystem::file_size(p);
    std::ifstream in(p, std::ios::binary);
    if (!in) fail(p.string(), ": cannot open");
    h.add_string(p.filename().string());
    h.add_u64(size);
    uint64_t header_len = 0;
    in.read(reinterpret_cast<char*>(&header_len), 8);
    if (in.gcount() == 8 && header_len <= size - 8) add_file_range(h, in, 8, header_len);
    add_file_range(h, in, 0, std::min(size, kSample));
    add_file_range(h, in, size - std::min(size, kSample), std::min(size, kSample));
  }
  return "hf-" + hex16(h.digest());
}

}  // namespace

std::string model_identity(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return hf_identity(path);
  return gguf_identity(path);
}

}  // namespace whale::model
