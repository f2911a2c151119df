#include "formats/model_file.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "formats/gguf.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "util/error.h"

namespace whale::formats {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

ordered_json value_json(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type()) {
    case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
      return v.as<uint64_t>();
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
      return v.as<int64_t>();
    case ValueType::FLOAT32: {
      // Print the float's own shortest form (1e-06, not its double widening 9.99999997e-07).
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as<float>());
      return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
    }
    case ValueType::FLOAT64:
      return v.as<double>();
    case ValueType::BOOL:
      return v.as<bool>();
    case ValueType::STRING:
      return v.str();
    case ValueType::ARRAY: {
      if (v.array().size() > kMaxListedArray)
        return ordered_json{{"type", "array"},
                            {"elem_type", std::string(gguf::value_type_name(v.elem_type()))},
                            {"length", v.array().size()}};
      ordered_json a = ordered_json::array();
      for (const auto& e : v.array()) a.push_back(value_json(e));
      return a;
    }
  }
  return nullptr;
}

void add_tensor(ModelSummary& s, TensorSummary t, uint64_t n_elements) {
  s.parameter_count += n_elements;
  s.bytes_per_type[t.type] += t.nbytes;
  s.tensors_per_type[t.type] += 1;
  s.tensors.push_back(std::move(t));
}

// Per-layer KV values of a GQA model: 2 * kv_heads * head_dim (K and V).
void set_gqa_kv(ModelSummary& s, int64_t layers, int64_t kv_heads, int64_t k_dim, int64_t v_dim) {
  if (layers <= 0 || kv_heads <= 0 || k_dim <= 0 || v_dim <= 0) return;
  s.kv_values_per_token_per_layer = static_cast<uint64_t>(kv_heads * (k_dim + v_dim));
  s.kv_values_per_token = *s.kv_values_per_token_per_layer * static_cast<uint64_t>(layers);
}

void describe_gguf(ModelSummary& s, const fs::path& path) {
  auto f = gguf::GgufFile::open(path);
  s.format = "gguf";
  s.gguf_version = f->version();
  s.file_bytes = f->file_size();
  s.warnings = f->warnings();
  s.architecture = f->get_or<std::string>("general.architecture", "");
  for (const auto& [k, v] : f->metadata()) s.metadata[k] = value_json(v);
  const std::string prefix = s.architecture + ".";
  for (const auto& [k, v] : f->metadata())
    if (!s.architecture.empty() && k.rfind(prefix, 0) == 0)
      s.hyperparameters[k.substr(prefix.size())] = value_json(v);

  if (f->has("tokenizer.ggml.model") || f->has("tokenizer.ggml.tokens")) {
    ordered_json t = ordered_json::object();
    t["model"] = f->get_or<std::string>("tokenizer.ggml.model", "");
    if (f->has("tokenizer.ggml.pre")) t["pre"] = f->get<std::string>("tokenizer.ggml.pre");
    if (const gguf::Value* tok = f->find("tokenizer.ggml.tokens"))
      t["vocab_size"] = tok->array().size();
    if (const gguf::Value* m = f->find("tokenizer.ggml.merges")) t["merges"] = m->array().size();
    for (const char* id : {"bos", "eos", "unknown", "padding", "eot"}) {
      const std::string key = std::string("tokenizer.ggml.") + id + "_token_id";
      if (f->has(key)) t[std::string(id) + "_token_id"] = f->get<int64_t>(key);
    }
    for (const char* flag : {"add_bos_token", "add_eos_token"}) {
      const std::string key = std::string("tokenizer.ggml.") + flag;
      if (f->has(key)) t[flag] = f->get<bool>(key);
    }
    if (const gguf::Value* ct = f->find("tokenizer.chat_template"))
      t["chat_template_bytes"] = ct->str().size();
    s.tokenizer = t;
  }

  for (const auto& ti : f->tensors()) {
    TensorSummary t;
    t.name = ti.name;
    t.type = std::string(type_name(ti.type));
    t.shape.assign(ti.ne.begin(), ti.ne.begin() + std::max(ti.n_dims, 1));
    t.offset = ti.offset;
    t.nbytes = ti.nbytes;
    add_tensor(s, std::move(t), static_cast<uint64_t>(ti.ne[0] * ti.ne[1] * ti.ne[2] * ti.ne[3]));
  }

  // KV cache per token.
  const std::string& a = s.architecture;
  auto arch_int = [&](const std::string& key) -> int64_t {
    const gguf::Value* v = f->find(a + "." + key);
    if (!v || !v->is_integer()) return 0;
    return v->as<int64_t>();
  };
  int64_t layers = arch_int("block_count") - arch_int("nextn_predict_layers");
  if (a == "deepseek2") {
    const int64_t kv_lora = arch_int("attention.kv_lora_rank");
    const int64_t rope = arch_int("rope.dimension_count");
    if (layers > 0 && kv_lora > 0) {
      s.kv_values_per_token_per_layer = static_cast<uint64_t>(kv_lora + rope);
      s.kv_values_per_token = *s.kv_values_per_token_per_layer * static_cast<uint64_t>(layers);
    }
  } else {
    const int64_t heads = arch_int("attention.head_count");
    int64_t kv_heads = arch_int("attention.head_count_kv");
    if (kv_heads == 0) kv_heads = heads;
    const int64_t dim = arch_int("embedding_length");
    const int64_t hd = heads > 0 ? dim / heads : 0;
    const int64_t k = arch_int("attention.key_length");
    const int64_t v = arch_int("attention.value_length");
    set_gqa_kv(s, layers, kv_heads, k > 0 ? k : hd, v > 0 ? v : hd);
  }
}

std::string gguf_arch_of(const HfConfig& c) {
  const std::string& m = c.model_type;
  if (m == "deepseek_v2" || m == "deepseek_v3" || c.is_deepseek_mla()) return "deepseek2";
  if (m == "qwen2") return "qwen2";
  if (m == "llama") return "llama";
  return m;
}

void describe_safetensors(ModelSummary& s, const fs::path& path) {
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  auto ck = safetensors::Checkpoint::open(path);
  s.format = folder ? "hf-checkpoint" : "safetensors";
  for (const auto& sh : ck->shards()) s.file_bytes += sh->file_size();
  const fs::path dir = folder ? path : path.parent_path();
  std::optional<HfConfig> cfg;
  if (fs::exists(dir / "config.json")) cfg = load_hf_config(dir / "config.json");
  if (cfg) {
    s.metadata = ordered_json::parse(cfg->raw.dump());
    s.architecture = gguf_arch_of(*cfg);
    auto& h = s.hyperparameters;
    if (!cfg->architectures.empty()) h["hf_architecture"] = cfg->architectures[0];
    h["model_type"] = cfg->model_type;
    h["vocab_size"] = cfg->vocab_size;
    h["hidden_size"] = cfg->hidden_size;
    h["num_hidden_layers"] = cfg->num_hidden_layers;
    h["num_attention_heads"] = cfg->num_attention_heads;
    h["num_key_value_heads"] = cfg->num_key_value_heads;
    h["intermediate_size"] = cfg->intermediate_size;
    h["max_position_embeddings"] = cfg->max_position_embeddings;
    h["rope_theta"] = cfg->rope_theta;
    h["rms_norm_eps"] = cfg->rms_norm_eps;
    if (cfg->is_deepseek_mla()) {
      h["q_lora_rank"] = cfg->q_lora_rank;
      h["kv_lora_rank"] = cfg->kv_lora_rank;
      h["qk_nope_head_dim"] = cfg->qk_nope_head_dim;
      h["qk_rope_head_dim"] = cfg->qk_rope_head_dim;
      h["v_head_dim"] = cfg->v_head_dim;
      h["n_routed_experts"] = cfg->n_routed_experts;
      h["n_shared_experts"] = cfg->n_shared_experts;
      h["num_experts_per_tok"] = cfg->num_experts_per_tok;
      h["moe_intermediate_size"] = cfg->moe_intermediate_size;
      h["first_k_dense_replace"] = cfg->first_k_dense_replace;
      h["scoring_func"] = cfg->scoring_func;
      h["n_group"] = cfg->n_group;
      h["topk_group"] = cfg->topk_group;
      h["routed_scaling_factor"] = cfg->routed_scaling_factor;
      s.kv_values_per_token_per_layer =
          static_cast<uint64_t>(cfg->kv_lora_rank + cfg->qk_rope_head_dim);
      s.kv_values_per_token =
          *s.kv_values_per_token_per_layer * static_cast<uint64_t>(cfg->num_hidden_layers);
    } else {
      const int64_t hd = cfg->dense_head_dim();
      set_gqa_kv(s, cfg->num_hidden_layers, cfg->num_key_value_heads, hd, hd);
    }
    if (cfg->quantization_config) h["quant_method"] = cfg->quantization_config->quant_method;
  } else {
    s.architecture = "unknown";
    for (const auto& sh : ck->shards())
      for (const auto& [k, v] : sh->metadata()) s.metadata[k] = v;
  }
  for (const auto& ti : ck->tensors()) {
    TensorSummary t;
    t.name = ti.name;
    t.type = std::string(safetensors::dtype_name(ti.dtype));
    t.shape = ti.ne();
    t.offset = ti.begin;
    t.nbytes = ti.nbytes();
    if (ck->sharded()) t.file = fs::path(ck->shards()[ti.shard]->name()).filename().string();
    add_tensor(s, std::move(t), static_cast<uint64_t>(ti.n_elements()));
  }
}

}  // namespace

ModelSummary describe_model(const fs::path& path) {
  ModelSummary s;
  s.path = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path.string(), ": no such file or folder");
  const std::string ext = path.extension().string();
  if (fs::is_directory(path, ec) || ext == ".safetensors" || ext == ".json") {
    describe_safetensors(s, path);
  } else if (ext == ".gguf") {
    describe_gguf(s, path);
  } else {
    // Unknown extension: decide by the first bytes (GGUF magic, else try safetensors).
    FILE* fp = std::fopen(path.c_str(), "rb");
    char magic[4] = {0, 0, 0, 0};
    if (fp) {
      const size_t got = std::fread(magic, 1, 4, fp);
      (void)got;
      std::fclose(fp);
    }
    if (std::string_view(magic, 4) == "GGUF") {
      describe_gguf(s, path);
    } else {
      describe_safetensors(s, path);
    }
  }
  return s;
}

ordered_json to_json(const ModelSummary& s) {
  ordered_json j;
  j["path"] = s.path;
  j["format"] = s.format;
  j["architecture"] = s.architecture;
  if (s.gguf_version) j["gguf_version"] = s.gguf_version;
  j["file_bytes"] = s.file_bytes;
  j["tensor_count"] = s.tensors.size();
  j["parameter_count"] = s.parameter_count;
  j["hyperparameters"] = s.hyperparameters;
  j["tokenizer"] = s.tokenizer;
  if (s.kv_values_per_token) {
    j["kv_cache"] = {{"values_per_token_per_layer", *s.kv_values_per_token_per_layer},
                     {"values_per_token", *s.kv_values_per_token},
                     {"bytes_per_token_f16", *s.kv_values_per_token * 2}};
  } else {
    j["kv_cache"] = nullptr;
  }
  ordered_json types = ordered_json::object();
  for (const auto& [t, b] : s.bytes_per_type)
    types[t] = {{"tensors", s.tensors_per_type.at(t)}, {"bytes", b}};
  j["types"] = types;
  j["metadata"] = s.metadata;
  ordered_json ts = ordered_json::array();
  for (const auto& t : s.tensors) {
    ordered_json e = {{"name", t.name}, {"type", t.type}, {"shape", t.shape},
                      {"offset", t.offset}, {"nbytes", t.nbytes}};
    if (!t.file.empty()) e["file"] = t.file;
    ts.push_back(std::move(e));
  }
  j["tensors"] = std::move(ts);
  if (!s.warnings.empty()) j["warnings"] = s.warnings;
  return j;
}

}  // namespace whale::formats
