// Tokenizer::from_gguf: vocabulary from GGUF metadata (deepseek-arch.md §3.6, spec §7).
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace whale::tokenizer {
namespace {

// GGUF tokenizer.ggml.pre -> (regex family, NFC, ignore_merges).
struct PreInfo {
  const char* family;
  bool nfc;
  bool ignore_merges;
};

const PreInfo* pre_info(const std::string& pre) {
  static const std::pair<const char*, PreInfo> kTable[] = {
      {"deepseek-v3", {"deepseek-v3", false, false}},
      {"deepseek-llm", {"deepseek-llm", false, false}},
      {"deepseek-coder", {"deepseek-coder", false, false}},
      {"qwen2", {"qwen2", true, false}},
      {"deepseek-r1-qwen", {"qwen2", true, false}},
      {"llama-bpe", {"llama-bpe", false, true}},
      {"llama3", {"llama-bpe", false, true}},
      {"gpt-2", {"gpt2", false, false}},
      {"gpt2", {"gpt2", false, false}},
      {"default", {"gpt2", false, false}},
  };
  for (const auto& [name, info] : kTable)
    if (pre == name) return &info;
  return nullptr;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& f) {
  auto v = std::make_unique<Vocab>();
  v->name = f.name();
  const std::string model = f.get<std::string>("tokenizer.ggml.model");
  v->pieces = f.get_array<std::string>("tokenizer.ggml.tokens");
  if (f.has("tokenizer.ggml.token_type")) {
    for (int32_t t : f.get_array<int32_t>("tokenizer.ggml.token_type")) {
      if (t < 1 || t > 6) t = 1;  // unknown kinds are treated as ordinary entries
      v->types.push_back(static_cast<TokenType>(t));
    }
  }
  if (model == "gpt2") {
    v->kind = Vocab::Kind::kBytePairEncoding;
    const std::string pre = f.get_or<std::string>("tokenizer.ggml.pre", "default");
    const PreInfo* info = pre_info(pre);
    if (!info) fail(f.name(), ": tokenizer.ggml.pre \"", pre, "\" is not a supported pre-tokenizer");
    v->pre = info->family;
    v->nfc = info->nfc;
    v->ignore_merges = info->ignore_merges;
    for (const std::string& m : f.get_array<std::string>("tokenizer.ggml.merges")) {
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos)
        fail(f.name(), ": tokenizer.ggml.merges entry \"", m, "\" has no separating space");
      v->merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    v->add_bos = false;  // llama.cpp's default for byte-level BPE when the key is absent
  } else if (model == "llama") {
    v->kind = Vocab::Kind::kSentencePiece;
    if (f.has("tokenizer.ggml.scores")) v->scores = f.get_array<float>("tokenizer.ggml.scores");
    v->add_bos = true;
    v->add_space_prefix = f.get_or<bool>("tokenizer.ggml.add_space_prefix", true);
  } else {
    fail(f.name(), ": tokenizer.ggml.model \"", model, "\" is not supported (gpt2, llama)");
  }
  v->add_bos = f.get_or<bool>("tokenizer.ggml.add_bos_token", v->add_bos);
  auto id_key = [&](const char* key) -> int32_t {
    auto x = f.get_optional<uint32_t>(key);
    return x ? static_cast<int32_t>(*x) : -1;
  };
  v->bos = id_key("tokenizer.ggml.bos_token_id");
  v->eos = id_key("tokenizer.ggml.eos_token_id");
  for (const char* k : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (int32_t id = id_key(k); id >= 0) v->extra_eog.push_back(id);
  v->chat_template = f.get_or<std::string>("tokenizer.chat_template", "");

  // Control and user-defined entries act as added tokens (spec §7); types decide "special".
  for (size_t i = 0; i < v->types.size() && i < v->pieces.size(); ++i) {
    const TokenType t = v->types[i];
    if (t != TokenType::kControl && t != TokenType::kUserDefined) continue;
    AddedToken a;
    a.text = v->pieces[i];
    a.id = static_cast<int32_t>(i);
    a.special = t == TokenType::kControl;
    v->added.push_back(std::move(a));
  }
  v->finish();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(v)));
}

}  // namespace whale::tokenizer
