// Hugging Face config.json for the DeepSeek V2/V3 family and the Qwen2/Llama distills
// (spec deepseek-arch.md §1, §4.3). Values are type-checked (an int field holding "12" or 1.5
// is an error naming the file, the key and the value); optional ints accept null. The parsed
// JSON stays available in `raw` for anything not modelled here.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace whale::formats {

struct RopeScaling {
  std::string type;  // "yarn", "linear", "llama3", "dynamic", ...
  double factor = 1.0;
  std::optional<int64_t> original_max_position_embeddings;
  double beta_fast = 32.0;  // YaRN defaults (spec §3.1)
  double beta_slow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  std::optional<double> low_freq_factor;   // llama3
  std::optional<double> high_freq_factor;  // llama3
};

struct QuantizationConfig {
  std::string quant_method;  // "fp8"
  std::string fmt;           // "e4m3"
  std::string activation_scheme;
  std::vector<int64_t> weight_block_size;  // [128, 128]
  std::string scale_fmt;                   // "ue8m0" for V3.1, else empty
};

struct HfConfig {
  nlohmann::json raw;
  std::vector<std::string> architectures;
  std::string model_type;
  std::string torch_dtype;

  // Common transformer fields.
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  std::optional<int64_t> head_dim;  // explicit head size when given
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // a single id or a list in config.json
  std::optional<RopeScaling> rope_scaling;

  // DeepSeek MLA / MoE fields (zero / defaults for dense models).
  int64_t q_lora_rank = 0;  // null -> 0 (V2-Lite: direct q_proj)
  int64_t kv_lora_rank = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  std::string topk_method = "greedy";
  std::string scoring_func = "softmax";
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int64_t num_nextn_predict_layers = 0;
  std::optional<QuantizationConfig> quantization_config;

  bool is_deepseek_mla() const { return kv_lora_rank > 0; }
  // Attention head size of a dense (GQA) model: head_dim, else hidden / heads.
  int64_t dense_head_dim() const;
};

// Parses config.json text; `name` is used in error messages.
HfConfig parse_hf_config(const std::string& text, const std::string& name);
// Reads and parses a config.json file (or <folder>/config.json when given a folder).
HfConfig load_hf_config(const std::filesystem::path& path);

}  // namespace whale::formats
