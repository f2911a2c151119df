// Hugging Face checkpoints: GGUF tensor names translated to HF names (spec deepseek-arch.md
// §4.4), shapes reversed to GGUF order by the safetensors reader. BF16/F16/F32 weights are
// viewed in the mmap'd shards; FP8 E4M3 weights with 128x128 block scales are dequantised once at
// load to BF16 (as DeepSeek's reference conversion does), since the kernels have no FP8 path.
#include <mutex>
#include <unordered_map>

#include "formats/safetensors.h"
#include "model/weights.h"
#include "tensor/float_convert.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace whale::model {
namespace {

// blk.N.<suffix> (GGUF) -> model.layers.N.<hf suffix>
const std::unordered_map<std::string, std::string>& layer_names() {
  static const std::unordered_map<std::string, std::string> m = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
      {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
      {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
      {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
      {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", "mlp.gate.weight"},
      {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
      {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
  };
  return m;
}

std::optional<std::string> hf_name(const std::string& gguf) {
  if (gguf == "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf == "output_norm.weight") return "model.norm.weight";
  if (gguf == "output.weight") return "lm_head.weight";
  if (gguf.rfind("blk.", 0) != 0) return std::nullopt;
  const size_t dot = gguf.find('.', 4);
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = gguf.substr(4, dot - 4);
  auto it = layer_names().find(gguf.substr(dot + 1));
  if (it == layer_names().end()) return std::nullopt;
  return "model.layers." + layer + "." + it->second;
}

class HfWeights final : public WeightSource {
 public:
  explicit HfWeights(const std::filesystem::path& folder) : ckpt_(safetensors::Checkpoint::open(folder)) {
    name_ = folder.string();
    for (const auto& t : ckpt_->tensors()) total_ += t.nbytes();
  }
  const std::string& name() const override { return name_; }
  uint64_t total_bytes() const override { return total_; }

  std::optional<TensorView> find(const std::string& gguf_name) override {
    auto hf = hf_name(gguf_name);
    if (!hf) return std::nullopt;
    return view_hf(*hf);
  }

  std::optional<TensorView> find_expert(int layer, const std::string& kind, int e) override {
    return view_hf("model.layers." + std::to_string(layer) + ".mlp.experts." + std::to_string(e) + "." + kind +
                   "_proj.weight");
  }

 private:
  std::optional<TensorView> view_hf(const std::string& hf) {
    const auto* info = ckpt_->find(hf);
    if (!info) return std::nullopt;
    if (!ckpt_->is_fp8_block_scaled(hf)) {
      TensorView v = ckpt_->view(*info);
      v.name = hf;
      return v;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = converted_.find(hf); it != converted_.end()) return it->second;
    // FP8 [rows, cols] (PyTorch order) with scale_inv [ceil(rows/128), ceil(cols/128)].
    if (info->shape.size() != 2) fail(name_, ": FP8 tensor ", hf, " is not 2-D");
    const int64_t rows = info->shape[0], cols = info->shape[1];
    const auto* sc = ckpt_->scale_inv(hf);
    const int64_t srows = (rows + 127) / 128, scols = (cols + 127) / 128;
    if (sc->n_elements() != srows * scols || sc->dtype != safetensors::Dtype::F32)
      fail(name_, ": tensor ", sc->name, " must be F32 [", srows, ", ", scols, "] for ", hf);
    std::vector<float> w(static_cast<size_t>(rows * cols));
    dequantize_fp8_block_scaled(ckpt_->data(*info), reinterpret_cast<const float*>(ckpt_->data(*sc)), rows, cols,
                                w.data());
    std::vector<uint8_t> bf(w.size() * 2);
    auto* out = reinterpret_cast<uint16_t*>(bf.data());
    for (size_t i = 0; i < w.size(); ++i) out[i] = f32_to_bf16(w[i]);
    TensorView v = own_bytes(hf, GgmlType::BF16, std::move(bf), {cols, rows, 1, 1}, 2);
    converted_.emplace(hf, v);
    return v;
  }

  std::unique_ptr<safetensors::Checkpoint> ckpt_;
  std::string name_;
  uint64_t total_ = 0;
  std::mutex mu_;
  std::unordered_map<std::string, TensorView> converted_;
};

}  // namespace

std::unique_ptr<WeightSource> hf_weights(const std::filesystem::path& folder, int) {
  return std::make_unique<HfWeights>(folder);
}

}  // namespace whale::model
