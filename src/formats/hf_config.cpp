#include "formats/hf_config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace whale::formats {
namespace {

using nlohmann::json;

// Typed field readers: each names the file and the key when a value has the wrong type.
class Reader {
 public:
  Reader(const json& obj, const std::string& file, std::string prefix = "")
      : obj_(obj), file_(file), prefix_(std::move(prefix)) {}

  const json* get(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> opt_int(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();
    // Some configs write integral values as floats (4096.0).
    if (v->is_number_float() && std::isfinite(v->get<double>()) &&
        v->get<double>() == std::floor(v->get<double>()) && std::fabs(v->get<double>()) < 9e15)
      return static_cast<int64_t>(v->get<double>());
    fail(file_, ": ", prefix_, key, ": expected an integer, found ", v->dump());
  }
  int64_t int_or(const char* key, int64_t fallback) const {
    return opt_int(key).value_or(fallback);
  }
  int64_t required_int(const char* key) const {
    auto v = opt_int(key);
    if (!v) fail(file_, ": missing required key ", prefix_, key);
    return *v;
  }
  int64_t positive(const char* key) const {
    const int64_t v = required_int(key);
    if (v <= 0) fail(file_, ": ", prefix_, key, " = ", v, " must be positive");
    return v;
  }
  std::optional<double> opt_double(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(file_, ": ", prefix_, key, ": expected a number, found ", v->dump());
    return v->get<double>();
  }
  double double_or(const char* key, double fallback) const {
    return opt_double(key).value_or(fallback);
  }
  bool bool_or(const char* key, bool fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(file_, ": ", prefix_, key, ": expected true/false, found ", v->dump());
    return v->get<bool>();
  }
  std::string string_or(const char* key, std::string fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(file_, ": ", prefix_, key, ": expected a string, found ", v->dump());
    return v->get<std::string>();
  }

 private:
  const json& obj_;
  const std::string& file_;
  std::string prefix_;
};

RopeScaling parse_rope(const json& j, const std::string& file, const std::string& key) {
  if (!j.is_object()) fail(file, ": ", key, ": expected an object, found ", j.dump());
  Reader r(j, file, key + ".");
  RopeScaling s;
  s.type = r.string_or("type", r.string_or("rope_type", ""));
  s.factor = r.double_or("factor", 1.0);
  if (!(s.factor > 0)) fail(file, ": ", key, ".factor = ", s.factor, " must be positive");
  s.original_max_position_embeddings = r.opt_int("original_max_position_embeddings");
  s.beta_fast = r.double_or("beta_fast", 32.0);
  s.beta_slow = r.double_or("beta_slow", 1.0);
  s.mscale = r.opt_double("mscale");
  s.mscale_all_dim = r.opt_double("mscale_all_dim");
  s.low_freq_factor = r.opt_double("low_freq_factor");
  s.high_freq_factor = r.opt_double("high_freq_factor");
  return s;
}

}  // namespace

int64_t HfConfig::dense_head_dim() const {
  if (head_dim) return *head_dim;
  return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
}

HfConfig parse_hf_config(const std::string& text, const std::string& name) {
  HfConfig c;
  try {
    c.raw = json::parse(text);
  } catch (const json::exception& e) {
    fail(name, ": not valid JSON: ", e.what());
  }
  if (!c.raw.is_object()) fail(name, ": config is not a JSON object");
  const json& j = c.raw;
  Reader r(j, name);

  if (const json* a = r.get("architectures")) {
    if (!a->is_array()) fail(name, ": architectures: expected an array, found ", a->dump());
    for (const auto& s : *a) {
      if (!s.is_string()) fail(name, ": architectures: non-string entry ", s.dump());
      c.architectures.push_back(s.get<std::string>());
    }
  }
  c.model_type = r.string_or("model_type", "");
  c.torch_dtype = r.string_or("torch_dtype", r.string_or("dtype", ""));

  c.vocab_size = r.positive("vocab_size");
  c.hidden_size = r.positive("hidden_size");
  c.num_hidden_layers = r.positive("num_hidden_layers");
  c.num_attention_heads = r.positive("num_attention_heads");
  c.num_key_value_heads = r.int_or("num_key_value_heads", c.num_attention_heads);
  if (c.num_key_value_heads <= 0)
    fail(name, ": num_key_value_heads = ", c.num_key_value_heads, " must be positive");
  c.intermediate_size = r.int_or("intermediate_size", 0);
  c.head_dim = r.opt_int("head_dim");
  c.max_position_embeddings = r.int_or("max_position_embeddings", 0);
  c.rms_norm_eps = r.double_or("rms_norm_eps", 1e-6);
  c.rope_theta = r.double_or("rope_theta", 10000.0);
  c.tie_word_embeddings = r.bool_or("tie_word_embeddings", false);
  c.bos_token_id = r.opt_int("bos_token_id");
  if (const json* e = r.get("eos_token_id")) {
    if (e->is_array()) {
      for (const auto& id : *e) {
        if (!id.is_number_integer()) fail(name, ": eos_token_id: non-integer entry ", id.dump());
        c.eos_token_ids.push_back(id.get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(r.required_int("eos_token_id"));
    }
  }

  if (const json* rs = r.get("rope_scaling")) c.rope_scaling = parse_rope(*rs, name, "rope_scaling");
  // Newer spelling: rope_parameters carries rope_theta, rope_type and the scaling fields.
  if (const json* rp = r.get("rope_parameters")) {
    if (!rp->is_object()) fail(name, ": rope_parameters: expected an object, found ", rp->dump());
    Reader pr(*rp, name, "rope_parameters.");
    if (!r.get("rope_theta")) c.rope_theta = pr.double_or("rope_theta", c.rope_theta);
    if (!c.rope_scaling) {
      RopeScaling s = parse_rope(*rp, name, "rope_parameters");
      if (!s.type.empty() && s.type != "default") c.rope_scaling = s;
    }
  }

  c.q_lora_rank = r.int_or("q_lora_rank", 0);
  c.kv_lora_rank = r.int_or("kv_lora_rank", 0);
  c.qk_rope_head_dim = r.int_or("qk_rope_head_dim", 0);
  c.qk_nope_head_dim = r.int_or("qk_nope_head_dim", 0);
  c.v_head_dim = r.int_or("v_head_dim", 0);
  c.n_routed_experts = r.int_or("n_routed_experts", 0);
  c.n_shared_experts = r.int_or("n_shared_experts", 0);
  c.num_experts_per_tok = r.int_or("num_experts_per_tok", 0);
  c.moe_intermediate_size = r.int_or("moe_intermediate_size", 0);
  c.first_k_dense_replace = r.int_or("first_k_dense_replace", 0);
  c.moe_layer_freq = r.int_or("moe_layer_freq", 1);
  c.n_group = r.int_or("n_group", 1);
  c.topk_group = r.int_or("topk_group", 1);
  c.topk_method = r.string_or("topk_method", "greedy");
  c.scoring_func = r.string_or("scoring_func", "softmax");
  c.norm_topk_prob = r.bool_or("norm_topk_prob", false);
  c.routed_scaling_factor = r.double_or("routed_scaling_factor", 1.0);
  c.num_nextn_predict_layers = r.int_or("num_nextn_predict_layers", 0);
  for (auto [key, v] : {std::pair{"q_lora_rank", c.q_lora_rank}, {"kv_lora_rank", c.kv_lora_rank},
                        {"qk_rope_head_dim", c.qk_rope_head_dim},
                        {"qk_nope_head_dim", c.qk_nope_head_dim}, {"v_head_dim", c.v_head_dim},
                        {"n_routed_experts", c.n_routed_experts},
                        {"n_shared_experts", c.n_shared_experts},
                        {"num_experts_per_tok", c.num_experts_per_tok},
                        {"first_k_dense_replace", c.first_k_dense_replace},
                        {"num_nextn_predict_layers", c.num_nextn_predict_layers}})
    if (v < 0) fail(name, ": ", key, " = ", v, " must not be negative");
  if (c.n_group <= 0 || c.topk_group <= 0 || c.topk_group > c.n_group)
    fail(name, ": n_group = ", c.n_group, ", topk_group = ", c.topk_group,
         " (need 1 <= topk_group <= n_group)");
  if (c.n_routed_experts > 0 && c.num_experts_per_tok > c.n_routed_experts)
    fail(name, ": num_experts_per_tok = ", c.num_experts_per_tok, " exceeds n_routed_experts = ",
         c.n_routed_experts);

  if (const json* q = r.get("quantization_config")) {
    if (!q->is_object())
      fail(name, ": quantization_config: expected an object, found ", q->dump());
    Reader qr(*q, name, "quantization_config.");
    QuantizationConfig qc;
    qc.quant_method = qr.string_or("quant_method", "");
    qc.fmt = qr.string_or("fmt", "");
    qc.activation_scheme = qr.string_or("activation_scheme", "");
    qc.scale_fmt = qr.string_or("scale_fmt", "");
    if (const json* b = qr.get("weight_block_size")) {
      if (!b->is_array()) fail(name, ": quantization_config.weight_block_size: not an array");
      for (const auto& x : *b) {
        if (!x.is_number_integer() || x.get<int64_t>() <= 0)
          fail(name, ": quantization_config.weight_block_size: bad entry ", x.dump());
        qc.weight_block_size.push_back(x.get<int64_t>());
      }
    }
    c.quantization_config = qc;
  }
  return c;
}

HfConfig load_hf_config(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "config.json";
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(p.string(), ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), p.string());
}

}  // namespace whale::formats
