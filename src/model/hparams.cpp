#include "model/hparams.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "util/error.h"

namespace whale::model {
namespace {

constexpr double kPi = 3.14159265358979323846;

// m(s, a) = 1 + a·ln(s) for s > 1 (a already holds the 0.1 factor), else 1.
double yarn_m(double factor, double log_mul) { return factor <= 1.0 ? 1.0 : 1.0 + log_mul * std::log(factor); }

void check_positive(const std::string& source, const char* what, int64_t v) {
  if (v <= 0) fail(source, ": ", what, " must be positive, got ", v);
}

void validate(const Hparams& hp, const std::string& src) {
  check_positive(src, "vocab size", hp.vocab_size);
  check_positive(src, "embedding length", hp.n_embd);
  check_positive(src, "layer count", hp.n_layers);
  check_positive(src, "head count", hp.n_heads);
  if (hp.arch == Arch::kDeepSeek2) {
    check_positive(src, "kv_lora_rank", hp.kv_lora_rank);
    check_positive(src, "qk_rope_head_dim", hp.qk_rope);
    check_positive(src, "qk_nope_head_dim", hp.qk_nope);
    check_positive(src, "v_head_dim", hp.v_head_dim);
    if (hp.qk_rope % 2) fail(src, ": rope dimension count must be even, got ", hp.qk_rope);
    if (hp.n_experts > 0) {
      if (hp.n_experts_used <= 0 || hp.n_experts_used > hp.n_experts)
        fail(src, ": expert_used_count ", hp.n_experts_used, " out of range for ", hp.n_experts, " experts");
      if (hp.n_groups > 1) {
        if (hp.n_experts % hp.n_groups)
          fail(src, ": expert count ", hp.n_experts, " not divisible by group count ", hp.n_groups);
        if (hp.n_groups_used < 1 || hp.n_groups_used > hp.n_groups)
          fail(src, ": expert_group_used_count ", hp.n_groups_used, " out of range for ", hp.n_groups, " groups");
        if (hp.n_groups_used * (hp.n_experts / hp.n_groups) < hp.n_experts_used)
          fail(src, ": ", hp.n_groups_used, " of ", hp.n_groups, " groups hold fewer than ",
               hp.n_experts_used, " experts");
      }
    }
  } else {
    check_positive(src, "head_count_kv", hp.n_kv_heads);
    check_positive(src, "head dim", hp.head_dim);
    if (hp.n_heads % hp.n_kv_heads)
      fail(src, ": head_count ", hp.n_heads, " not a multiple of head_count_kv ", hp.n_kv_heads);
    if (hp.rope.dims % 2 || hp.rope.dims > hp.head_dim)
      fail(src, ": rope dimension count ", hp.rope.dims, " invalid for head dim ", hp.head_dim);
  }
  if (hp.kv_values_per_token() % 32)
    fail(src, ": KV row of ", hp.kv_values_per_token(), " values is not a multiple of 32");
}

// Llama-3 frequency divisors (spec §3.8).
std::vector<float> llama3_factors(int dims, float theta, float factor, float low_ff, float high_ff,
                                  float orig_ctx) {
  std::vector<float> f(dims / 2);
  for (int i = 0; i < dims / 2; ++i) {
    const double w = std::pow(double(theta), -2.0 * i / dims);
    const double lambda = 2 * kPi / w;
    if (lambda < orig_ctx / high_ff) f[i] = 1.0f;
    else if (lambda > orig_ctx / low_ff) f[i] = factor;
    else {
      const double sm = (orig_ctx / lambda - low_ff) / (high_ff - low_ff);
      f[i] = static_cast<float>(1.0 / ((1 - sm) / factor + sm));
    }
  }
  return f;
}

}  // namespace

float deepseek_softmax_scale(int qk_head_dim, float yarn_factor, float yarn_log_multiplier) {
  const double m = yarn_m(yarn_factor, yarn_log_multiplier);
  return static_cast<float>(m * m / std::sqrt(double(qk_head_dim)));
}

std::vector<float> rope_frequencies(const RopeParams& rope) {
  const int half = rope.dims / 2;
  std::vector<float> w(half);
  double low = 0, high = 0;
  if (rope.yarn) {
    const double d = rope.dims, L = rope.yarn_original_ctx, lt = std::log(double(rope.theta));
    auto dim_of = [&](double r) { return d * std::log(L / (2 * kPi * r)) / (2 * lt); };
    low = std::max(std::floor(dim_of(rope.yarn_beta_fast)), 0.0);
    high = std::min(std::ceil(dim_of(rope.yarn_beta_slow)), d - 1);
    if (high == low) high = low + 0.001;
  }
  for (int j = 0; j < half; ++j) {
    double wj = std::pow(double(rope.theta), -2.0 * j / rope.dims);
    if (rope.yarn) {
      const double ramp = std::clamp((j - low) / (high - low), 0.0, 1.0);
      wj = wj * (1 - ramp) + (wj / rope.yarn_factor) * ramp;
    }
    if (!rope.freq_factors.empty()) wj /= rope.freq_factors[j];
    w[j] = static_cast<float>(wj);
  }
  return w;
}

Hparams hparams_from_gguf(const gguf::GgufFile& f) {
  const std::string src = f.name();
  Hparams hp;
  hp.arch_name = f.get<std::string>("general.architecture");
  const std::string p = hp.arch_name + ".";
  if (hp.arch_name == "deepseek2") hp.arch = Arch::kDeepSeek2;
  else if (hp.arch_name == "llama") hp.arch = Arch::kLlama;
  else if (hp.arch_name == "qwen2") hp.arch = Arch::kQwen2;
  else fail(src, ": unsupported architecture '", hp.arch_name, "' (supported: deepseek2, llama, qwen2)");

  const auto* embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(src, ": missing tensor token_embd.weight");
  hp.n_embd = f.get<int64_t>(p + "embedding_length");
  hp.vocab_size = embd->ne[1];
  const int block_count = f.get<int>(p + "block_count");
  hp.n_layers = block_count - f.get_or<int>(p + "nextn_predict_layers", 0);
  hp.n_ctx_train = f.get_or<int64_t>(p + "context_length", 4096);
  hp.rms_eps = f.get<float>(p + "attention.layer_norm_rms_epsilon");
  hp.n_heads = f.get<int>(p + "attention.head_count");
  hp.n_ff = f.get_or<int64_t>(p + "feed_forward_length", 0);
  hp.rope.theta = f.get_or<float>(p + "rope.freq_base", 10000.0f);

  if (hp.arch == Arch::kDeepSeek2) {
    for (const char* k : {"blk.0.attn_indexer.weight", "blk.0.indexer.k_norm.weight"})
      if (f.find_tensor(k)) fail(src, ": DeepSeek V3.2 sparse-attention files are not supported (tensor ", k, ")");
    const int key_len = f.has(p + "attention.key_length_mla") ? f.get<int>(p + "attention.key_length_mla")
                                                             : f.get<int>(p + "attention.key_length");
    hp.v_head_dim = f.has(p + "attention.value_length_mla") ? f.get<int>(p + "attention.value_length_mla")
                                                           : f.get<int>(p + "attention.value_length");
    hp.qk_rope = f.get<int>(p + "rope.dimension_count");
    hp.qk_nope = key_len - hp.qk_rope;
    hp.kv_lora_rank = f.get<int>(p + "attention.kv_lora_rank");
    // q-LoRA is detected by tensor presence (spec pitfall 14), not by the key.
    hp.q_lora_rank = f.find_tensor("blk.0.attn_q_a.weight") ? f.get<int>(p + "attention.q_lora_rank") : 0;
    hp.n_dense_layers = f.get_or<int>(p + "leading_dense_block_count", 0);
    hp.n_ff_exp = f.get_or<int64_t>(p + "expert_feed_forward_length", 0);
    hp.n_experts = f.get_or<int>(p + "expert_count", 0);
    hp.n_experts_used = f.get_or<int>(p + "expert_used_count", 0);
    hp.n_shared_experts = f.get_or<int>(p + "expert_shared_count", 0);
    hp.route_scale = f.get_or<float>(p + "expert_weights_scale", 1.0f);
    if (hp.route_scale == 0.0f) hp.route_scale = 1.0f;  // some converters write 0 for "unset"
    hp.norm_topk = f.get_or<bool>(p + "expert_weights_norm", false);
    const uint32_t gating = f.get_or<uint32_t>(p + "expert_gating_func", 0);
    if (gating == 0 || gating == 1) hp.scoring = ScoringFunc::kSoftmax;
    else if (gating == 2) hp.scoring = ScoringFunc::kSigmoid;
    else fail(src, ": key ", p, "expert_gating_func: value ", gating, " is not supported for deepseek2 (1 softmax, 2 sigmoid)");
    if (auto g = f.get_optional<int>(p + "expert_group_count")) {
      hp.n_groups = std::max(1, *g);
      hp.n_groups_used = hp.n_groups > 1 ? f.get<int>(p + "expert_group_used_count") : 1;
    } else if (hp.n_experts == 160) {
      hp.n_groups = 8, hp.n_groups_used = 3;  // DeepSeek-V2 (236B) shape, spec §3.1
    } else if (hp.n_experts == 256) {
      hp.n_groups = 8, hp.n_groups_used = 4;  // DeepSeek-V3 shape
    }
    const std::string scaling = f.get_or<std::string>(p + "rope.scaling.type", "none");
    hp.rope.layout = RopeLayout::kAdjacentPairs;
    hp.rope.dims = hp.qk_rope;
    float log_mul = 0;
    if (scaling == "yarn") {
      hp.rope.yarn = true;
      hp.rope.yarn_factor = f.get<float>(p + "rope.scaling.factor");
      hp.rope.yarn_original_ctx = f.get<int>(p + "rope.scaling.original_context_length");
      hp.rope.yarn_beta_fast = f.get_or<float>(p + "rope.scaling.yarn_beta_fast", 32.0f);
      hp.rope.yarn_beta_slow = f.get_or<float>(p + "rope.scaling.yarn_beta_slow", 1.0f);
      log_mul = f.get_or<float>(p + "rope.scaling.yarn_log_multiplier", 0.0f);
      if (hp.rope.yarn_factor <= 0) fail(src, ": rope.scaling.factor must be positive, got ", hp.rope.yarn_factor);
    } else if (scaling != "none") {
      fail(src, ": key ", p, "rope.scaling.type: value '", scaling, "' is not supported for deepseek2");
    }
    hp.attn_scale = deepseek_softmax_scale(hp.qk_head_dim(), hp.rope.yarn ? hp.rope.yarn_factor : 1.0f, log_mul);
  } else {
    hp.n_kv_heads = f.get_or<int>(p + "attention.head_count_kv", hp.n_heads);
    hp.head_dim = f.get_or<int>(p + "attention.key_length", static_cast<int>(hp.n_embd / hp.n_heads));
    const int vlen = f.get_or<int>(p + "attention.value_length", hp.head_dim);
    if (vlen != hp.head_dim) fail(src, ": value_length ", vlen, " != key_length ", hp.head_dim, " is not supported");
    hp.rope.dims = f.get_or<int>(p + "rope.dimension_count", hp.head_dim);
    // GGUF llama q/k rows are permuted by the converter so adjacent pairs apply (spec §3.8).
    hp.rope.layout = hp.arch == Arch::kQwen2 ? RopeLayout::kHalfSplit : RopeLayout::kAdjacentPairs;
    const std::string scaling = f.get_or<std::string>(p + "rope.scaling.type", "none");
    if (scaling == "linear") {
      const float factor = f.get<float>(p + "rope.scaling.factor");
      hp.rope.freq_factors.assign(hp.rope.dims / 2, factor);
    } else if (scaling != "none" && scaling != "llama3") {
      fail(src, ": key ", p, "rope.scaling.type: value '", scaling, "' is not supported");
    }
    if (const auto* rf = f.find_tensor("rope_freqs.weight")) {
      const TensorView v = f.view(*rf);
      if (v.type != GgmlType::F32 || v.n_elements() != hp.rope.dims / 2)
        fail(src, ": tensor rope_freqs.weight must be F32 with ", hp.rope.dims / 2, " values");
      const auto* vals = reinterpret_cast<const float*>(v.data);
      hp.rope.freq_factors.assign(vals, vals + hp.rope.dims / 2);
    }
    hp.attn_scale = static_cast<float>(1.0 / std::sqrt(double(hp.head_dim)));
  }
  validate(hp, src);
  return hp;
}

namespace {

template <class T>
T json_get(const nlohmann::json& j, const char* key, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) fail(src, ": missing key '", key, "'");
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(src, ": key '", key, "' has the wrong type: ", j[key].dump());
  }
}

template <class T>
T json_get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return json_get<T>(j, key, src);
}

}  // namespace

Hparams hparams_from_hf_config(const nlohmann::json& c, const std::string& src) {
  if (!c.is_object()) fail(src, ": not a JSON object");
  Hparams hp;
  const std::string type = json_get_or<std::string>(c, "model_type", "", src);
  if (type == "deepseek_v2" || type == "deepseek_v3") hp.arch = Arch::kDeepSeek2, hp.arch_name = "deepseek2";
  else if (type == "qwen2") hp.arch = Arch::kQwen2, hp.arch_name = "qwen2";
  else if (type == "llama") hp.arch = Arch::kLlama, hp.arch_name = "llama";
  else fail(src, ": unsupported model_type '", type, "' (supported: deepseek_v2, deepseek_v3, qwen2, llama)");

  hp.vocab_size = json_get<int64_t>(c, "vocab_size", src);
  hp.n_embd = json_get<int64_t>(c, "hidden_size", src);
  hp.n_layers = json_get<int>(c, "num_hidden_layers", src);
  hp.n_ctx_train = json_get_or<int64_t>(c, "max_position_embeddings", 4096, src);
  hp.rms_eps = json_get_or<float>(c, "rms_norm_eps", 1e-6f, src);
  hp.n_heads = json_get<int>(c, "num_attention_heads", src);
  hp.n_ff = json_get_or<int64_t>(c, "intermediate_size", 0, src);
  // Newer configs nest rope settings in rope_parameters (spec §4.3).
  nlohmann::json rope = c.contains("rope_parameters") && c["rope_parameters"].is_object()
                            ? c["rope_parameters"]
                            : (c.contains("rope_scaling") && c["rope_scaling"].is_object() ? c["rope_scaling"]
                                                                                          : nlohmann::json::object());
  hp.rope.theta = json_get_or<float>(c, "rope_theta", json_get_or<float>(rope, "rope_theta", 10000.0f, src), src);
  const std::string rope_type = json_get_or<std::string>(rope, "type", json_get_or<std::string>(rope, "rope_type", "none", src), src);

  if (hp.arch == Arch::kDeepSeek2) {
    hp.q_lora_rank = json_get_or<int>(c, "q_lora_rank", 0, src);
    hp.kv_lora_rank = json_get<int>(c, "kv_lora_rank", src);
    hp.qk_nope = json_get<int>(c, "qk_nope_head_dim", src);
    hp.qk_rope = json_get<int>(c, "qk_rope_head_dim", src);
    hp.v_head_dim = json_get<int>(c, "v_head_dim", src);
    hp.n_dense_layers = json_get_or<int>(c, "first_k_dense_replace", 0, src);
    hp.n_ff_exp = json_get_or<int64_t>(c, "moe_intermediate_size", 0, src);
    hp.n_experts = json_get_or<int>(c, "n_routed_experts", 0, src);
    hp.n_experts_used = json_get_or<int>(c, "num_experts_per_tok", 0, src);
    hp.n_shared_experts = json_get_or<int>(c, "n_shared_experts", 0, src);
    hp.route_scale = json_get_or<float>(c, "routed_scaling_factor", 1.0f, src);
    hp.norm_topk = json_get_or<bool>(c, "norm_topk_prob", false, src);
    const std::string scoring = json_get_or<std::string>(c, "scoring_func", "softmax", src);
    if (scoring == "softmax") hp.scoring = ScoringFunc::kSoftmax;
    else if (scoring == "sigmoid") hp.scoring = ScoringFunc::kSigmoid;
    else fail(src, ": scoring_func '", scoring, "' is not supported");
    const std::string topk_method = json_get_or<std::string>(c, "topk_method", "greedy", src);
    if (topk_method != "greedy") {
      hp.n_groups = std::max(1, json_get_or<int>(c, "n_group", 1, src));
      hp.n_groups_used = hp.n_groups > 1 ? json_get<int>(c, "topk_group", src) : 1;
    }
    hp.rope.layout = RopeLayout::kAdjacentPairs;
    hp.rope.dims = hp.qk_rope;
    double log_mul = 0;
    if (rope_type == "yarn") {
      hp.rope.yarn = true;
      hp.rope.yarn_factor = json_get<float>(rope, "factor", src);
      hp.rope.yarn_original_ctx = json_get<int>(rope, "original_max_position_embeddings", src);
      hp.rope.yarn_beta_fast = json_get_or<float>(rope, "beta_fast", 32.0f, src);
      hp.rope.yarn_beta_slow = json_get_or<float>(rope, "beta_slow", 1.0f, src);
      const double mscale = json_get_or<double>(rope, "mscale", 1.0, src);
      const double mscale_all = json_get_or<double>(rope, "mscale_all_dim", 0.0, src);
      hp.rope.yarn_amplitude = static_cast<float>(yarn_m(hp.rope.yarn_factor, 0.1 * mscale) /
                                                  yarn_m(hp.rope.yarn_factor, 0.1 * mscale_all));
      log_mul = 0.1 * mscale_all;
    } else if (rope_type != "none" && rope_type != "default") {
      fail(src, ": rope_scaling type '", rope_type, "' is not supported for DeepSeek");
    }
    hp.attn_scale = deepseek_softmax_scale(hp.qk_head_dim(), hp.rope.yarn ? hp.rope.yarn_factor : 1.0f,
                                           static_cast<float>(log_mul));
  } else {
    hp.n_kv_heads = json_get_or<int>(c, "num_key_value_heads", hp.n_heads, src);
    hp.head_dim = json_get_or<int>(c, "head_dim", static_cast<int>(hp.n_embd / hp.n_heads), src);
    hp.rope.dims = hp.head_dim;
    hp.rope.layout = RopeLayout::kHalfSplit;  // HF weights are not permuted (spec §3.8)
    if (rope_type == "llama3") {
      hp.rope.freq_factors = llama3_factors(
          hp.head_dim, hp.rope.theta, json_get<float>(rope, "factor", src),
          json_get_or<float>(rope, "low_freq_factor", 1.0f, src), json_get_or<float>(rope, "high_freq_factor", 4.0f, src),
          json_get_or<float>(rope, "original_max_position_embeddings", 8192.0f, src));
    } else if (rope_type == "linear") {
      hp.rope.freq_factors.assign(hp.head_dim / 2, json_get<float>(rope, "factor", src));
    } else if (rope_type != "none" && rope_type != "default") {
      fail(src, ": rope_scaling type '", rope_type, "' is not supported");
    }
    hp.attn_scale = static_cast<float>(1.0 / std::sqrt(double(hp.head_dim)));
  }
  validate(hp, src);
  return hp;
}

}  // namespace whale::model
