#include "model/weights.h"

#include <cstring>

#include "formats/gguf.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace whale::model {

TensorView WeightSource::require(const std::string& gguf_name) {
  auto t = find(gguf_name);
  if (!t) fail(name(), ": missing tensor ", gguf_name);
  return *t;
}

TensorView WeightSource::require_expert(int layer, const std::string& kind, int e) {
  auto t = find_expert(layer, kind, e);
  if (!t) fail(name(), ": missing expert ", e, " ", kind, " weights of layer ", layer);
  return *t;
}

TensorView WeightSource::own_bytes(std::string tname, GgmlType type, std::vector<uint8_t> bytes,
                                   std::array<int64_t, 4> ne, int n_dims) {
  owned_.push_back(std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
  TensorView v;
  v.name = std::move(tname);
  v.type = type;
  v.ne = ne;
  v.n_dims = n_dims;
  v.data = owned_.back()->data();
  v.nbytes = owned_.back()->size();
  return v;
}

TensorView WeightSource::own_f32(std::string tname, std::vector<float> values, std::array<int64_t, 4> ne,
                                 int n_dims) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return own_bytes(std::move(tname), GgmlType::F32, std::move(bytes), ne, n_dims);
}

std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const int64_t rows = t.n_rows();
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t.type, t.row(r), out.data() + r * t.ne[0], t.ne[0]);
  return out;
}

TensorView row_slice(const TensorView& t, int64_t first, int64_t count) {
  if (first < 0 || count < 0 || first + count > t.n_rows())
    fail("tensor ", t.name, ": rows [", first, ", ", first + count, ") out of range (", t.n_rows(), " rows)");
  TensorView v = t;
  v.ne = {t.ne[0], count, 1, 1};
  v.n_dims = 2;
  v.data = t.row(first);
  v.nbytes = t.row_size() * static_cast<size_t>(count);
  return v;
}

namespace {

class GgufWeights final : public WeightSource {
 public:
  explicit GgufWeights(const gguf::GgufFile& f) : file_(f) {
    for (const auto& t : f.tensors()) total_ += t.nbytes;
  }
  const std::string& name() const override { return file_.name(); }
  uint64_t total_bytes() const override { return total_; }

  std::optional<TensorView> find(const std::string& n) override {
    const auto* info = file_.find_tensor(n);
    if (!info) return std::nullopt;
    return file_.view(*info);
  }

  std::optional<TensorView> find_expert(int layer, const std::string& kind, int e) override {
    const std::string base = "blk." + std::to_string(layer) + ".ffn_";
    if (auto t = find(base + kind + "_exps.weight")) return expert_slice(*t, e, 0, t->ne[1]);
    if (kind == "gate" || kind == "up") {
      // Fused variant: the first half of each expert's rows is gate, the second half up.
      if (auto t = find(base + "gate_up_exps.weight")) {
        const int64_t half = t->ne[1] / 2;
        return expert_slice(*t, e, kind == "gate" ? 0 : half, half);
      }
    }
    return std::nullopt;
  }

 private:
  TensorView expert_slice(const TensorView& t, int e, int64_t row0, int64_t rows) const {
    if (e < 0 || e >= t.ne[2]) fail(name(), ": tensor ", t.name, " has no expert ", e);
    TensorView v = t;
    v.ne = {t.ne[0], rows, 1, 1};
    v.n_dims = 2;
    v.data = t.data + (static_cast<size_t>(e) * t.ne[1] + row0) * t.row_size();
    v.nbytes = t.row_size() * rows;
    v.name = t.name + "[" + std::to_string(e) + "]";
    return v;
  }

  const gguf::GgufFile& file_;
  uint64_t total_ = 0;
};

}  // namespace

std::unique_ptr<WeightSource> gguf_weights(const gguf::GgufFile& file) {
  return std::make_unique<GgufWeights>(file);
}

}  // namespace whale::model
