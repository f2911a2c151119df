// Hyperparameters of the supported architectures, read from GGUF metadata or a Hugging Face
// config.json, with the defaults the spec (deepseek-arch.md §3.1-3.2, §3.8, §4.3) gives for
// keys that older files omit. Model configs are data: the forward pass branches on these fields,
// never on a model's name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace whale::gguf {
class GgufFile;
}

namespace whale::model {

enum class Arch { kDeepSeek2, kLlama, kQwen2 };
enum class ScoringFunc { kSoftmax, kSigmoid };
enum class RopeLayout {
  kAdjacentPairs,  // rotate (x[2j], x[2j+1]): DeepSeek (HF and GGUF), llama GGUF
  kHalfSplit,      // rotate (x[i], x[i + d/2]): qwen2, llama HF
};

struct RopeParams {
  RopeLayout layout = RopeLayout::kAdjacentPairs;
  int dims = 0;              // rotated values per head
  float theta = 10000.0f;
  // YaRN (DeepSeek): frequency blend and amplitude.
  bool yarn = false;
  float yarn_factor = 1.0f;
  int yarn_original_ctx = 0;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  float yarn_amplitude = 1.0f;  // m(s, mscale) / m(s, mscale_all_dim); 1 for released models
  // Llama-3 style per-frequency divisors (rope_freqs.weight, or computed from rope_scaling).
  std::vector<float> freq_factors;
};

struct Hparams {
  Arch arch = Arch::kDeepSeek2;
  std::string arch_name;
  int64_t vocab_size = 0;
  int64_t n_embd = 0;
  int n_layers = 0;       // main layers (MTP blocks excluded)
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-6f;
  int n_heads = 0;

  // Llama / Qwen2 (GQA)
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t n_ff = 0;       // dense FFN width (also DeepSeek's leading dense layers)

  // DeepSeek MLA
  int q_lora_rank = 0;    // 0: direct query projection (V2-Lite)
  int kv_lora_rank = 0;
  int qk_nope = 0;
  int qk_rope = 0;
  int v_head_dim = 0;

  // DeepSeek MoE
  int n_dense_layers = 0;
  int64_t n_ff_exp = 0;
  int n_experts = 0;
  int n_experts_used = 0;
  int n_shared_experts = 0;
  int n_groups = 1;       // 1: no group-limited selection
  int n_groups_used = 1;
  ScoringFunc scoring = ScoringFunc::kSoftmax;
  bool norm_topk = false;
  float route_scale = 1.0f;

  RopeParams rope;
  float attn_scale = 0;   // softmax scale, mscale² included for DeepSeek

  int qk_head_dim() const { return qk_nope + qk_rope; }
  // Values cached per token per layer: latent + rope key (MLA), or K and V (GQA).
  int kv_values_per_token() const {
    return arch == Arch::kDeepSeek2 ? kv_lora_rank + qk_rope : 2 * n_kv_heads * head_dim;
  }
  bool is_moe_layer(int l) const { return arch == Arch::kDeepSeek2 && n_experts > 0 && l >= n_dense_layers; }
};

// From GGUF metadata. `has_selection_bias` (exp_probs_b present) decides the group rule
// defaults of spec §3.1. Throws whale::Error naming the file and key for unsupported or
// inconsistent values.
Hparams hparams_from_gguf(const gguf::GgufFile& file);

// From a Hugging Face config.json (DeepseekV2/V3ForCausalLM, Qwen2ForCausalLM,
// LlamaForCausalLM). `source` names the file in errors.
Hparams hparams_from_hf_config(const nlohmann::json& config, const std::string& source);

// The per-pair rotation frequencies ω'_j (j < dims/2) after YaRN or Llama-3 scaling.
std::vector<float> rope_frequencies(const RopeParams& rope);

// DeepSeek softmax scale: m(s, mscale_all_dim)² / sqrt(qk_head_dim), where m = 1 + log_mul·ln(s).
float deepseek_softmax_scale(int qk_head_dim, float yarn_factor, float yarn_log_multiplier);

}  // namespace whale::model
