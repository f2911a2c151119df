#include "model/synthetic.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "formats/gguf_writer.h"
#include "tensor/dtype.h"
#include "tensor/float_convert.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace whale::model {
namespace {

// splitmix64: fast, good enough for weights nobody reads for meaning.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<int64_t>(next() >> 11) * 0x1.0p-52 - 1.0); }
};

uint64_t mix_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Element spread such that a row dot a unit-variance input has about unit variance.
float target_std(int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); }

// Fills `n` bytes of quantised rows of `type` with random payloads and scales chosen so a
// dequantised element has roughly standard deviation `sd`. Scales are finite f16 by construction.
void fill_quant(GgmlType type, uint8_t* dst, size_t n, float sd, Rng& rng) {
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t r = rng.next();
    std::memcpy(dst + i, &r, 8);
  }
  for (size_t i = n & ~size_t{7}; i < n; ++i) dst[i] = static_cast<uint8_t>(rng.next());
  const auto& tr = traits(type);
  auto put = [](uint8_t* p, float v) {
    const uint16_t h = f32_to_fp16(v);
    std::memcpy(p, &h, 2);
  };
  for (size_t b = 0; b < n; b += tr.type_size) {
    uint8_t* blk = dst + b;
    switch (type) {
      case GgmlType::Q4_0: put(blk + offsetof(BlockQ4_0, d), sd / 4.6f); break;
      case GgmlType::Q5_0: put(blk + offsetof(BlockQ5_0, d), sd / 9.2f); break;
      case GgmlType::Q8_0: put(blk + offsetof(BlockQ8_0, d), sd / 74.0f); break;
      case GgmlType::Q4_K:
        put(blk + offsetof(BlockQ4K, d), sd / 140.0f);
        put(blk + offsetof(BlockQ4K, dmin), sd / 140.0f);
        break;
      case GgmlType::Q5_K:
        put(blk + offsetof(BlockQ5K, d), sd / 280.0f);
        put(blk + offsetof(BlockQ5K, dmin), sd / 280.0f);
        break;
      case GgmlType::Q6_K: put(blk + offsetof(BlockQ6K, d), sd / 1370.0f); break;
      default: fail("synth: no random fill for type ", type_name(type));
    }
  }
}

void fill_float(GgmlType type, uint8_t* dst, size_t n, float sd, float mean, Rng& rng) {
  const float a = sd * 1.7320508f;  // uniform [-a, a] has std a/sqrt(3)
  if (type == GgmlType::F32) {
    auto* p = reinterpret_cast<float*>(dst);
    for (size_t i = 0; i < n / 4; ++i) p[i] = mean + a * rng.uniform();
  } else if (type == GgmlType::F16) {
    auto* p = reinterpret_cast<uint16_t*>(dst);
    for (size_t i = 0; i < n / 2; ++i) p[i] = f32_to_fp16(mean + a * rng.uniform());
  } else {
    fail("synth: no float fill for type ", type_name(type));
  }
}

struct Writer {
  gguf::GgufWriter& w;
  const SynthOptions& o;

  GgmlType weight_type(const std::string& name, int64_t ne0) const {
    switch (o.mix) {
      case SynthMix::kF32: return GgmlType::F32;
      case SynthMix::kF16: return GgmlType::F16;
      case SynthMix::kQ8_0: return ne0 % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;
      case SynthMix::kQ4_K_M:
        // The q4_k_m mix of issue 5: Q6_K head, Q8_0 k_b, Q5_0 for 1408/10944-wide rows, Q4_K
        // wherever rows are a multiple of 256.
        if (name == "output.weight" && ne0 % 256 == 0) return GgmlType::Q6_K;
        if (name.find("attn_k_b") != std::string::npos) return GgmlType::Q8_0;
        if (ne0 % 256 == 0) return GgmlType::Q4_K;
        if (ne0 % 32 == 0) return (ne0 == 1408 || ne0 == 10944) ? GgmlType::Q5_0 : GgmlType::Q8_0;
        return GgmlType::F16;
    }
    return GgmlType::F16;
  }

  // A weight matrix (or expert stack) with ne = {in, out[, experts]}.
  void matrix(const std::string& name, std::vector<int64_t> ne) {
    const GgmlType t = weight_type(name, ne[0]);
    const float sd = target_std(ne[0]);
    auto rng = std::make_shared<Rng>(Rng{mix_seed(o.seed, name)});
    w.add_tensor_fill(name, t, ne, [t, sd, rng](uint8_t* dst, size_t n) {
      if (t == GgmlType::F32 || t == GgmlType::F16) fill_float(t, dst, n, sd, 0.0f, *rng);
      else fill_quant(t, dst, n, sd, *rng);
    });
  }

  // The hybrid MLA generation carries kv_b and also k_b/v_b; the latter must hold the same
  // weights (k_b = per-head transpose of kv_b's key rows, v_b = its value rows, spec §3.4), so
  // they are derived from kv_b's dequantised values and quantised to their own types.
  void mla_hybrid(const std::string& p, const SynthShape& s) {
    const int64_t R = s.kv_lora, H = s.heads, rows = H * (s.nope + s.v);
    const std::string kvb_name = p + "attn_kv_b.weight";
    const GgmlType kvb_t = weight_type(kvb_name, R);
    std::vector<uint8_t> kvb(row_bytes(kvb_t, R) * rows);
    Rng rng{mix_seed(o.seed, kvb_name)};
    if (kvb_t == GgmlType::F32 || kvb_t == GgmlType::F16) fill_float(kvb_t, kvb.data(), kvb.size(), target_std(R), 0.0f, rng);
    else fill_quant(kvb_t, kvb.data(), kvb.size(), target_std(R), rng);
    std::vector<float> w(static_cast<size_t>(rows * R));
    for (int64_t r = 0; r < rows; ++r) dequantize_row(kvb_t, kvb.data() + r * row_bytes(kvb_t, R), w.data() + r * R, R);
    std::vector<float> kb(static_cast<size_t>(H * R * s.nope)), vb(static_cast<size_t>(H * s.v * R));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < R; ++c) {
        for (int d = 0; d < s.nope; ++d) kb[(h * R + c) * s.nope + d] = w[(h * (s.nope + s.v) + d) * R + c];
        for (int d = 0; d < s.v; ++d) vb[(h * s.v + d) * R + c] = w[(h * (s.nope + s.v) + s.nope + d) * R + c];
      }
    w_add(kvb_name, kvb_t, {R, rows}, std::move(kvb));
    add_quantised(p + "attn_k_b.weight", kb, {s.nope, R, H});
    add_quantised(p + "attn_v_b.weight", vb, {R, s.v, H});
  }

  void add_quantised(const std::string& name, const std::vector<float>& values, std::vector<int64_t> ne) {
    const GgmlType t = weight_type(name, ne[0]);
    const int64_t rows = static_cast<int64_t>(values.size()) / ne[0];
    std::vector<uint8_t> bytes(row_bytes(t, ne[0]) * rows);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, values.data() + r * ne[0], bytes.data() + r * row_bytes(t, ne[0]), ne[0]);
    w_add(name, t, ne, std::move(bytes));
  }

  void w_add(const std::string& name, GgmlType t, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
    w.add_tensor(name, t, ne, std::move(bytes));
  }

  void vector(const std::string& name, std::vector<int64_t> ne, float mean, float sd) {
    auto rng = std::make_shared<Rng>(Rng{mix_seed(o.seed, name)});
    w.add_tensor_fill(name, GgmlType::F32, ne,
                      [mean, sd, rng](uint8_t* dst, size_t nb) { fill_float(GgmlType::F32, dst, nb, sd, mean, *rng); });
  }
};

// DeepSeek-V3's added tokens, in the order of its vocabulary (spec tokenizer-and-chat.md §5).
const char* const kSpecials[] = {
    "<think>", "</think>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜User｜>", "<｜Assistant｜>", "<|EOT|>",
    "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
    "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>",
    "<｜tool▁sep｜>"};

// Common English words (as byte-level pieces with a leading space): demo models emit them, so
// their random output reads as words instead of byte soup. No merges build them, so encoding
// text never produces them; they only make generated gibberish legible.
const char* const kDemoWords[] = {"the","of","and","to","in","is","that","for","it","as","was","with","be","by","on","not","he","this","are","or","his","from","at","which","but","have","an","they","you","were","her","she","there","one","all","we","their","has","been","if","more","when","will","would","who","so","no","can","said","what","up","its","about","into","than","them","only","other","time","new","some","could","these","two","may","first","then","do","any","like","my","now","over","such","our","man","me","even","most","made","after","also","did","many","before","must","through","back","years","where","much","your","way","well","down","should","because","each","just","those","people","how","too","little","state","good","very","make","world","still","own","see","men","work","long","here","get","both","between","life","being","under","never","day","same","another","know","while","last","might","us","great","old","year","off","come","since","against","go","came","right","used","take","three"};

// GPT-2 byte-level alphabet: printable bytes stand for themselves, the others are shifted to
// U+0100.. so every byte is one visible character.
std::string byte_token(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  int cp = b;
  if (!printable) {
    int k = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) ++k;
    cp = 256 + k;
  }
  std::string s;
  if (cp < 0x80) s += static_cast<char>(cp);
  else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A byte-level BPE vocabulary with no merges (every byte is a token) plus DeepSeek-V3's special
// tokens, then word pieces up to the model's vocabulary size.
void write_vocab(gguf::GgufWriter& w, int64_t vocab, const std::string& tmpl) {
  std::vector<std::string> tokens = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"};
  std::vector<int32_t> types = {3, 3, 3};
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_token(b)), types.push_back(1);
  for (const char* s : kSpecials) {
    tokens.push_back(s);
    // <|EOT|> is special (control) in V3; the chat markers are user-defined (parsed in text).
    types.push_back(std::string(s) == "<|EOT|>" ? 3 : 4);
  }
  // "Ġ" is the byte-level form of a space.
  for (const char* word : kDemoWords) {
    if (static_cast<int64_t>(tokens.size()) >= vocab) break;
    tokens.push_back(std::string("\xC4\xA0") + word);
    types.push_back(1);
  }
  if (static_cast<int64_t>(tokens.size()) > vocab) fail("synth: vocabulary of ", vocab, " is too small for the tokens");
  // The rest are ordinary word pieces, not unused ids: a random-weight model samples nearly
  // uniformly from the whole vocabulary, and its output should be text that a client sees
  // (bench-serve measures time to the first visible token).
  while (static_cast<int64_t>(tokens.size()) < vocab) {
    tokens.push_back("\xC4\xA0w" + std::to_string(tokens.size()));
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "deepseek-v3");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.bos_token_id", 0);
  w.set_u32("tokenizer.ggml.eos_token_id", 1);
  w.set_u32("tokenizer.ggml.padding_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  w.set_string("tokenizer.chat_template", tmpl);
}

}  // namespace

SynthShape synth_shape(std::string_view name) {
  SynthShape s;
  s.name = std::string(name);
  if (name == "v2-lite") {
    s.vocab = 102400, s.dim = 2048, s.layers = 27, s.dense_layers = 1, s.ff = 10944, s.heads = 16;
    s.q_lora = 0, s.experts = 64, s.used = 6, s.shared = 2, s.ff_exp = 1408;
    s.yarn_log_mul = 0.0707f;
  } else if (name == "v3") {
    s.vocab = 129280, s.dim = 7168, s.layers = 61, s.dense_layers = 3, s.ff = 18432, s.heads = 128;
    s.q_lora = 1536, s.experts = 256, s.used = 8, s.shared = 1, s.ff_exp = 2048, s.groups = 8, s.groups_used = 4;
    s.sigmoid = s.selection_bias = s.norm_topk = true, s.route_scale = 2.5f;
  } else if (name == "tiny-v3" || name == "demo") {
    s.vocab = 512, s.dim = 256, s.layers = name == "demo" ? 4 : 3, s.dense_layers = 1, s.ff = 512, s.heads = 4;
    s.q_lora = 192, s.experts = 16, s.used = 4, s.shared = 1, s.ff_exp = 128, s.groups = 4, s.groups_used = 2;
    s.sigmoid = s.selection_bias = s.norm_topk = true, s.route_scale = 2.5f;
    s.ctx = 16384;
    // The demo's vocabulary is exactly its tokens (bytes, specials, words): no padding ids, whose
    // empty text would make its random output look like silence.
    if (name == "demo") s.vocab = 3 + 256 + 17 + 144;
  } else if (name == "v2-lite-tiny") {
    s.vocab = 512, s.dim = 256, s.layers = 3, s.dense_layers = 1, s.ff = 512, s.heads = 4;
    s.q_lora = 0, s.experts = 8, s.used = 3, s.shared = 2, s.ff_exp = 64;
    s.yarn_log_mul = 0.0707f, s.ctx = 16384;
  } else if (name == "v2-tiny") {
    s.vocab = 512, s.dim = 256, s.layers = 3, s.dense_layers = 1, s.ff = 512, s.heads = 4;
    s.q_lora = 192, s.experts = 16, s.used = 3, s.shared = 2, s.ff_exp = 64, s.groups = 4, s.groups_used = 2;
    s.route_scale = 16.0f, s.yarn_log_mul = 0.0707f, s.ctx = 16384;
  } else {
    fail("synth: unknown shape '", name, "' (v2-lite, v3, tiny-v3, v2-lite-tiny, v2-tiny, demo)");
  }
  return s;
}

SynthMix synth_mix(std::string_view name) {
  if (name == "q4_k_m") return SynthMix::kQ4_K_M;
  if (name == "q8_0") return SynthMix::kQ8_0;
  if (name == "f16") return SynthMix::kF16;
  if (name == "f32") return SynthMix::kF32;
  fail("synth: unknown mix '", name, "' (q4_k_m, q8_0, f16, f32)");
}

uint64_t write_synthetic_model(const SynthOptions& o, const std::filesystem::path& path) {
  const SynthShape& s = o.shape;
  gguf::GgufWriter w;
  const std::string a = "deepseek2.";
  w.set_string("general.architecture", "deepseek2");
  w.set_string("general.name", "whale-synthetic-" + s.name);
  w.set_string("general.description", "random weights: output is gibberish by design");
  w.set_u32(a + "block_count", s.layers);
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.dim));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.ff));
  w.set_u32(a + "attention.head_count", s.heads);
  const bool mqa = s.mla == MlaTensors::kMqa;
  w.set_u32(a + "attention.head_count_kv", mqa ? 1 : s.heads);
  w.set_f32(a + "rope.freq_base", 10000.0f);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_u32(a + "expert_used_count", s.used);
  w.set_u32(a + "leading_dense_block_count", s.dense_layers);
  w.set_u32(a + "vocab_size", static_cast<uint32_t>(s.vocab));
  if (s.q_lora > 0) w.set_u32(a + "attention.q_lora_rank", s.q_lora);
  w.set_u32(a + "attention.kv_lora_rank", s.kv_lora);
  w.set_u32(a + "attention.key_length", mqa ? s.kv_lora + s.rope : s.nope + s.rope);
  w.set_u32(a + "attention.value_length", mqa ? s.kv_lora : s.v);
  if (mqa) {
    w.set_u32(a + "attention.key_length_mla", s.nope + s.rope);
    w.set_u32(a + "attention.value_length_mla", s.v);
  }
  w.set_u32(a + "expert_feed_forward_length", static_cast<uint32_t>(s.ff_exp));
  w.set_u32(a + "expert_count", s.experts);
  w.set_u32(a + "expert_shared_count", s.shared);
  w.set_f32(a + "expert_weights_scale", s.route_scale);
  w.set_bool(a + "expert_weights_norm", s.norm_topk);
  w.set_u32(a + "expert_gating_func", s.sigmoid ? 2 : 1);
  if (s.groups > 1) {
    w.set_u32(a + "expert_group_count", s.groups);
    w.set_u32(a + "expert_group_used_count", s.groups_used);
  }
  w.set_u32(a + "rope.dimension_count", s.rope);
  w.set_string(a + "rope.scaling.type", "yarn");
  w.set_f32(a + "rope.scaling.factor", s.yarn_factor);
  w.set_u32(a + "rope.scaling.original_context_length", s.yarn_original_ctx);
  w.set_f32(a + "rope.scaling.yarn_log_multiplier", s.yarn_log_mul);
  w.set_u32("general.file_type", o.mix == SynthMix::kF32 ? 0 : o.mix == SynthMix::kF16 ? 1 : o.mix == SynthMix::kQ8_0 ? 7 : 15);
  write_vocab(w, s.vocab, o.chat_template.empty() ? demo_chat_template(false) : o.chat_template);

  Writer tw{w, o};
  tw.matrix("token_embd.weight", {s.dim, s.vocab});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    tw.vector(p + "attn_norm.weight", {s.dim}, 1.0f, 0.05f);
    if (s.q_lora > 0) {
      tw.matrix(p + "attn_q_a.weight", {s.dim, s.q_lora});
      tw.vector(p + "attn_q_a_norm.weight", {s.q_lora}, 1.0f, 0.05f);
      tw.matrix(p + "attn_q_b.weight", {s.q_lora, int64_t{s.heads} * (s.nope + s.rope)});
    } else {
      tw.matrix(p + "attn_q.weight", {s.dim, int64_t{s.heads} * (s.nope + s.rope)});
    }
    tw.matrix(p + "attn_kv_a_mqa.weight", {s.dim, s.kv_lora + s.rope});
    tw.vector(p + "attn_kv_a_norm.weight", {s.kv_lora}, 1.0f, 0.05f);
    if (s.mla == MlaTensors::kHybrid) tw.mla_hybrid(p, s);
    if (s.mla == MlaTensors::kLegacy) tw.matrix(p + "attn_kv_b.weight", {s.kv_lora, int64_t{s.heads} * (s.nope + s.v)});
    if (s.mla == MlaTensors::kMqa) {
      tw.matrix(p + "attn_k_b.weight", {s.nope, s.kv_lora, s.heads});
      tw.matrix(p + "attn_v_b.weight", {s.kv_lora, s.v, s.heads});
    }
    tw.matrix(p + "attn_output.weight", {int64_t{s.heads} * s.v, s.dim});
    tw.vector(p + "ffn_norm.weight", {s.dim}, 1.0f, 0.05f);
    if (l < s.dense_layers) {
      tw.matrix(p + "ffn_gate.weight", {s.dim, s.ff});
      tw.matrix(p + "ffn_up.weight", {s.dim, s.ff});
      tw.matrix(p + "ffn_down.weight", {s.ff, s.dim});
      continue;
    }
    tw.vector(p + "ffn_gate_inp.weight", {s.dim, s.experts}, 0.0f, target_std(s.dim));
    if (s.selection_bias) tw.vector(p + "exp_probs_b.bias", {s.experts}, 0.0f, 0.05f);
    tw.matrix(p + "ffn_gate_exps.weight", {s.dim, s.ff_exp, s.experts});
    tw.matrix(p + "ffn_up_exps.weight", {s.dim, s.ff_exp, s.experts});
    tw.matrix(p + "ffn_down_exps.weight", {s.ff_exp, s.dim, s.experts});
    if (s.shared > 0) {
      tw.matrix(p + "ffn_gate_shexp.weight", {s.dim, s.ff_exp * s.shared});
      tw.matrix(p + "ffn_up_shexp.weight", {s.dim, s.ff_exp * s.shared});
      tw.matrix(p + "ffn_down_shexp.weight", {s.ff_exp * s.shared, s.dim});
    }
  }
  tw.vector("output_norm.weight", {s.dim}, 1.0f, 0.05f);
  tw.matrix("output.weight", {s.dim, s.vocab});
  w.write(path);
  return w.file_size();
}

std::string demo_chat_template(bool thinking) {
  // Written for whale from the format description in tokenizer-and-chat.md §6.2: system prompts
  // hoisted and joined by blank lines, earlier reasoning dropped from assistant turns, tool calls
  // as ```json blocks, tool outputs grouped in one block.
  std::string t = R"({{ bos_token }}{%- set ns = namespace(system='', started=false, outputs=false) -%})"
                  R"({%- for m in messages -%}{%- if m['role'] == 'system' -%})"
                  R"({%- if ns.started -%}{%- set ns.system = ns.system + '\n\n' + m['content'] -%})"
                  R"({%- else -%}{%- set ns.system = m['content'] -%}{%- set ns.started = true -%}{%- endif -%})"
                  R"({%- endif -%}{%- endfor -%}{{ ns.system }})"
                  R"({%- for m in messages -%})"
                  R"({%- if m['role'] == 'user' -%})"
                  R"({%- if ns.outputs -%}<｜tool▁outputs▁end｜>{%- set ns.outputs = false -%}{%- endif -%})"
                  R"(<｜User｜>{{ m['content'] }})"
                  R"({%- elif m['role'] == 'assistant' -%})"
                  R"({%- if ns.outputs -%}<｜tool▁outputs▁end｜>{%- set ns.outputs = false -%}{%- endif -%})"
                  R"({%- set content = m['content'] if m['content'] is string else '' -%})"
                  R"({%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1] -%}{%- endif -%})"
                  R"(<｜Assistant｜>{{ content }})"
                  R"({%- if m['tool_calls'] is defined and m['tool_calls'] -%}<｜tool▁calls▁begin｜>)"
                  R"({%- for tc in m['tool_calls'] -%}{%- if not loop.first -%}{{ '\n' }}{%- endif -%})"
                  R"(<｜tool▁call▁begin｜>{{ tc['type'] }}<｜tool▁sep｜>{{ tc['function']['name'] }})"
                  R"({{ '\n```json\n' }}{{ tc['function']['arguments'] }}{{ '\n```' }}<｜tool▁call▁end｜>)"
                  R"({%- endfor -%}<｜tool▁calls▁end｜>{%- endif -%}<｜end▁of▁sentence｜>)"
                  R"({%- elif m['role'] == 'tool' -%})"
                  R"({%- if ns.outputs -%}{{ '\n' }}{%- else -%}<｜tool▁outputs▁begin｜>{%- set ns.outputs = true -%}{%- endif -%})"
                  R"(<｜tool▁output▁begin｜>{{ m['content'] }}<｜tool▁output▁end｜>)"
                  R"({%- endif -%}{%- endfor -%})"
                  R"({%- if ns.outputs -%}<｜tool▁outputs▁end｜>{%- endif -%})";
  t += thinking ? R"({%- if add_generation_prompt -%}<｜Assistant｜><think>{{ '\n' }}{%- endif -%})"
                : R"({%- if add_generation_prompt -%}<｜Assistant｜>{%- endif -%})";
  return t;
}

}  // namespace whale::model
