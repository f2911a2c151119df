#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"

namespace whale::safetensors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  size_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1}, {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},
    {Dtype::U16, "U16", 2},   {Dtype::I16, "I16", 2}, {Dtype::U32, "U32", 4},
    {Dtype::I32, "I32", 4},   {Dtype::U64, "U64", 8}, {Dtype::I64, "I64", 8},
    {Dtype::F16, "F16", 2},   {Dtype::BF16, "BF16", 2}, {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},   {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E8M0, "F8_E8M0", 1},
};

// Reads a JSON integer that must be >= 0; `what` names it in the error.
uint64_t non_negative(const json& j, const std::string& file, const std::string& what) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  fail(file, ": ", what, ": expected a non-negative integer, found ", j.dump());
}

}  // namespace

std::string_view dtype_name(Dtype d) {
  for (const auto& e : kDtypes)
    if (e.dtype == d) return e.name;
  return "?";
}

size_t dtype_size(Dtype d) {
  for (const auto& e : kDtypes)
    if (e.dtype == d) return e.size;
  return 0;
}

std::optional<Dtype> dtype_from_name(std::string_view s) {
  for (const auto& e : kDtypes)
    if (e.name == s) return e.dtype;
  return std::nullopt;
}

std::optional<GgmlType> ggml_type(Dtype d) {
  switch (d) {
    case Dtype::F32: return GgmlType::F32;
    case Dtype::F16: return GgmlType::F16;
    case Dtype::BF16: return GgmlType::BF16;
    case Dtype::F8_E4M3: return GgmlType::F8_E4M3;
    case Dtype::F64: return GgmlType::F64;
    case Dtype::I8: return GgmlType::I8;
    case Dtype::I16: return GgmlType::I16;
    case Dtype::I32: return GgmlType::I32;
    case Dtype::I64: return GgmlType::I64;
    default: return std::nullopt;
  }
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated not to overflow at parse time
  return n;
}

std::vector<int64_t> TensorInfo::ne() const { return {shape.rbegin(), shape.rend()}; }

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const fs::path& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->name_ = path.string();
  f->map_ = std::make_unique<MappedFile>(path);
  f->data_ = f->map_->data();
  f->size_ = f->map_->size();
  f->parse_header();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size,
                                                        std::string name) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->name_ = std::move(name);
  f->data_ = data;
  f->size_ = size;
  f->parse_header();
  return f;
}

void SafetensorsFile::parse_header() {
  if (size_ < 8)
    fail(name_, ": not a safetensors file: ", size_, " bytes, shorter than the 8-byte header "
                "length");
  uint64_t n = 0;
  std::memcpy(&n, data_, 8);
  if (n < 2 || n > kMaxHeaderBytes)
    fail(name_, ": safetensors header length ", n, " is out of range (2 to ", kMaxHeaderBytes,
         " bytes)");
  if (n > size_ - 8)
    fail(name_, ": truncated file: safetensors header length ", n, " exceeds the ", size_ - 8,
         " bytes after the length field");
  data_offset_ = 8 + static_cast<size_t>(n);
  const char* text = reinterpret_cast<const char*>(data_ + 8);
  if (text[0] != '{')
    fail(name_, ": safetensors header does not start with '{' (byte 0x", std::hex,
         static_cast<int>(static_cast<unsigned char>(text[0])), ")");
  json header;
  try {
    header = json::parse(text, text + n);
  } catch (const json::exception& e) {
    fail(name_, ": safetensors header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail(name_, ": safetensors header is not a JSON object");

  const uint64_t data_bytes = size_ - data_offset_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail(name_, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(name_, ": __metadata__ entry ", m.key(), " is not a string: ", m.value().dump());
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor " + key;
    if (key.empty()) fail(name_, ": tensor with an empty name");
    if (!v.is_object()) fail(name_, ": ", what, ": entry is not an object: ", v.dump());
    TensorInfo t;
    t.name = key;
    const json* dt = v.contains("dtype") ? &v["dtype"] : nullptr;
    if (!dt || !dt->is_string()) fail(name_, ": ", what, ": missing or non-string dtype");
    const auto dtype = dtype_from_name(dt->get<std::string>());
    if (!dtype) fail(name_, ": ", what, ": unknown dtype ", dt->dump());
    t.dtype = *dtype;
    if (!v.contains("shape") || !v["shape"].is_array())
      fail(name_, ": ", what, ": missing or non-array shape");
    uint64_t elems = 1;
    bool overflow = false;
    for (const auto& d : v["shape"]) {
      const uint64_t dim = non_negative(d, name_, what + " shape");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && elems > std::numeric_limits<uint64_t>::max() / dim))
        overflow = true;
      elems *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t esize = dtype_size(t.dtype);
    if (overflow || elems > std::numeric_limits<uint64_t>::max() / esize ||
        elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(name_, ": ", what, ": shape ", v["shape"].dump(), " overflows 64 bits");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      fail(name_, ": ", what, ": data_offsets must be an array of two integers");
    t.begin = non_negative(v["data_offsets"][0], name_, what + " data_offsets");
    t.end = non_negative(v["data_offsets"][1], name_, what + " data_offsets");
    if (t.begin > t.end)
      fail(name_, ": ", what, ": data_offsets [", t.begin, ", ", t.end, "] has begin > end");
    if (t.end > data_bytes)
      fail(name_, ": ", what, ": data_offsets [", t.begin, ", ", t.end,
           "] run past the end of the data buffer (", data_bytes, " bytes; truncated file?)");
    if (t.end - t.begin != elems * esize)
      fail(name_, ": ", what, ": data_offsets [", t.begin, ", ", t.end, "] hold ",
           t.end - t.begin, " bytes but shape ", v["shape"].dump(), " of ", dtype_name(t.dtype),
           " needs ", elems * esize);
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  std::vector<const TensorInfo*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->nbytes() == 0) continue;
    if (prev && prev->end > t->begin)
      fail(name_, ": tensor ", t->name, ": data_offsets [", t->begin, ", ", t->end,
           "] overlap tensor ", prev->name, " [", prev->begin, ", ", prev->end, "]");
    prev = t;
  }
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

TensorView SafetensorsFile::view(const TensorInfo& t) const {
  const auto type = ggml_type(t.dtype);
  if (!type)
    fail(name_, ": tensor ", t.name, ": dtype ", dtype_name(t.dtype),
         " has no tensor type whale can compute with");
  if (t.shape.size() > 4)
    fail(name_, ": tensor ", t.name, ": ", t.shape.size(), " dims (at most 4 supported)");
  TensorView v;
  v.name = t.name;
  v.type = *type;
  v.n_dims = static_cast<int>(t.shape.size());
  for (size_t i = 0; i < t.shape.size(); ++i) v.ne[i] = t.shape[t.shape.size() - 1 - i];
  v.data = data(t);
  v.nbytes = t.nbytes();
  return v;
}

// ---------------------------------------------------------------------------------------------

std::unique_ptr<Checkpoint> Checkpoint::open(const fs::path& path) {
  std::unique_ptr<Checkpoint> c(new Checkpoint());
  c->path_ = path;
  fs::path index;
  fs::path single;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json")) {
      index = path / "model.safetensors.index.json";
    } else if (fs::exists(path / "model.safetensors")) {
      single = path / "model.safetensors";
    } else {
      fail(path.string(), ": no model.safetensors.index.json or model.safetensors in this "
                          "folder");
    }
  } else if (path.string().size() >= 5 && path.string().ends_with(".json")) {
    index = path;
  } else {
    single = path;
  }

  if (!single.empty()) {
    c->add_shard(SafetensorsFile::open(single));
    return c;
  }

  c->sharded_ = true;
  const std::string iname = index.string();
  std::ifstream in(index);
  if (!in) fail(iname, ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail(iname, ": not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(iname, ": missing \"weight_map\" object");
  const fs::path dir = index.parent_path();
  std::vector<std::string> shard_names;
  std::set<std::string> seen;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      fail(iname, ": weight_map entry ", it.key(), " is not a string: ", it.value().dump());
    const std::string file = it.value().get<std::string>();
    const fs::path rel(file);
    if (file.empty() || rel.is_absolute() ||
        std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; }))
      fail(iname, ": weight_map entry ", it.key(), ": shard name \"", file,
           "\" must be a relative path inside the checkpoint folder");
    if (seen.insert(file).second) shard_names.push_back(file);
  }
  // JSON objects come back sorted by tensor name; order shards by file name instead, which
  // follows the -00001-of-000NN numbering.
  std::sort(shard_names.begin(), shard_names.end());
  for (const auto& s : shard_names) c->add_shard(SafetensorsFile::open(dir / s));
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    const TensorInfo* t = c->find(it.key());
    const std::string file = it.value().get<std::string>();
    if (!t || c->shards_[t->shard]->name() != (dir / file).string())
      fail(iname, ": tensor ", it.key(), " is mapped to ", file, " but that shard does not hold it");
  }
  return c;
}

void Checkpoint::add_shard(std::unique_ptr<SafetensorsFile> f) {
  const size_t shard = shards_.size();
  for (TensorInfo t : f->tensors()) {
    if (index_.count(t.name))
      fail(f->name(), ": tensor ", t.name, " also appears in ",
           shards_[tensors_[index_[t.name]].shard]->name());
    t.shard = shard;
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  shards_.push_back(std::move(f));
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& Checkpoint::get(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) fail(path_.string(), ": tensor ", name, " not found in the checkpoint");
  return *t;
}

const TensorInfo* Checkpoint::scale_inv(std::string_view name) const {
  return find(std::string(name) + "_scale_inv");
}

bool Checkpoint::is_fp8_block_scaled(std::string_view name) const {
  const TensorInfo* t = find(name);
  return t && t->dtype == Dtype::F8_E4M3 && scale_inv(name) != nullptr;
}

}  // namespace whale::safetensors
