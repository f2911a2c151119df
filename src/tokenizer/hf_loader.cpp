// Tokenizer::from_hf / load: Hugging Face tokenizer.json (+ tokenizer_config.json) and dispatch
// by path (spec §7 "Load order for HF directories").
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace whale::tokenizer {
namespace {

using nlohmann::json;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(p.string(), ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json_file(const std::filesystem::path& p) {
  try {
    return json::parse(read_file(p));
  } catch (const json::exception& e) {
    fail(p.string(), ": invalid JSON: ", e.what());
  }
}

// Control characters inside the stored patterns are written as escapes, so one spelling of each
// known pattern suffices.
std::string escape_controls(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void collect_splits(const json& pt, std::vector<std::string>& patterns, bool& byte_level_regex) {
  if (!pt.is_object()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence") {
    for (const json& p : pt.value("pretokenizers", json::array()))
      collect_splits(p, patterns, byte_level_regex);
  } else if (type == "Split") {
    const json& pat = pt.at("pattern");
    if (pat.contains("Regex"))
      patterns.push_back(escape_controls(pat.at("Regex").get<std::string>()));
    else
      patterns.push_back("literal:" + pat.value("String", ""));
  } else if (type == "ByteLevel") {
    if (pt.value("use_regex", true)) byte_level_regex = true;
  }
}

// Recognises the pre-tokenizer JSON of the supported families; "" when unknown.
std::string recognise_pre_tokenizer(const json& pt) {
  std::vector<std::string> pats;
  bool bl_regex = false;
  collect_splits(pt, pats, bl_regex);
  static const std::string kV3_1 = R"(\p{N}{1,3})";
  static const std::string kV3_2 = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
  static const std::string kV3_3 =
      R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (pats.size() == 3 && pats[0] == kV3_1 && pats[1] == kV3_2 && pats[2] == kV3_3)
    return "deepseek-v3";
  if (pats.size() == 1 && pats[0] == kQwen2) return "qwen2";
  if (pats.size() == 1 && pats[0] == kLlama3) return "llama-bpe";
  // deepseek v1 models: newline isolation first, then the letter/punctuation/CJK/digit splits.
  if (pats.size() == 6 && pats[0] == R"([\r\n])" && pats[5] == R"(\p{N}+)") return "deepseek-llm";
  if (pats.size() == 5 && pats[0] == R"([\r\n])" && pats[4] == R"(\p{N})") return "deepseek-coder";
  if (pats.empty() && bl_regex) return "gpt2";
  return "";
}

// bos_token / eos_token in tokenizer_config.json: a string, an AddedToken object, or null.
std::string token_text(const json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return "";
  const json& t = config.at(key);
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content")) return t.at("content").get<std::string>();
  return "";
}

std::string chat_template_of(const json& config) {
  if (!config.is_object() || !config.contains("chat_template")) return "";
  const json& t = config.at("chat_template");
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // named templates: use "default"
    for (const json& e : t)
      if (e.value("name", "") == "default") return e.value("template", "");
    if (!t.empty()) return t[0].value("template", "");
  }
  return "";
}

// The id a TemplateProcessing post-processor puts before the sequence, or -1.
int32_t post_processor_bos(const json& pp) {
  if (!pp.is_object() || pp.value("type", "") != "TemplateProcessing") return -1;
  const json& single = pp.value("single", json::array());
  if (single.empty() || !single[0].contains("SpecialToken")) return -1;
  const std::string name = single[0]["SpecialToken"].value("id", "");
  const json& st = pp.value("special_tokens", json::object());
  if (!st.contains(name)) return -1;
  const json& ids = st[name].value("ids", json::array());
  return ids.empty() ? -1 : ids[0].get<int32_t>();
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(const json& tj, const json& config,
                                                   const std::string& name) {
  auto v = std::make_unique<Vocab>();
  v->name = name;
  try {
    const json& model = tj.at("model");
    const std::string mtype = model.value("type", "");
    if (mtype != "BPE") fail(name, ": model.type \"", mtype, "\" is not supported (BPE)");
    if (model.value("byte_fallback", false))
      fail(name, ": SentencePiece-style tokenizer.json (byte_fallback) is not supported; use a GGUF");
    v->kind = Vocab::Kind::kBytePairEncoding;
    v->ignore_merges = model.value("ignore_merges", false);

    // Normalizer: none, an empty sequence, or NFC.
    const json& norm = tj.contains("normalizer") ? tj.at("normalizer") : json();
    auto check_norm = [&](const json& n, auto&& self) -> void {
      if (n.is_null()) return;
      const std::string t = n.value("type", "");
      if (t == "NFC") {
        v->nfc = true;
      } else if (t == "Sequence") {
        for (const json& c : n.value("normalizers", json::array())) self(c, self);
      } else {
        fail(name, ": normalizer \"", t, "\" is not supported (none, NFC)");
      }
    };
    check_norm(norm, check_norm);

    v->pre = recognise_pre_tokenizer(tj.contains("pre_tokenizer") ? tj.at("pre_tokenizer") : json());
    if (v->pre.empty())
      fail(name, ": pre_tokenizer is not one of the supported families (deepseek-v3, qwen2, "
                 "llama-bpe, deepseek-llm, deepseek-coder, gpt2)");

    int32_t max_id = -1;
    for (const auto& [piece, id] : model.at("vocab").items()) max_id = std::max(max_id, id.get<int32_t>());
    const json& added = tj.value("added_tokens", json::array());
    for (const json& a : added) max_id = std::max(max_id, a.at("id").get<int32_t>());
    if (max_id < 0) fail(name, ": empty vocabulary");
    if (max_id > 16 * 1024 * 1024) fail(name, ": token id ", max_id, " is implausibly large");
    v->pieces.assign(static_cast<size_t>(max_id) + 1, std::string());
    v->types.assign(v->pieces.size(), TokenType::kUnused);
    for (const auto& [piece, id] : model.at("vocab").items()) {
      const int32_t i = id.get<int32_t>();
      if (i < 0) fail(name, ": vocab entry \"", piece, "\" has negative id ", i);
      v->pieces[i] = piece;
      v->types[i] = TokenType::kNormal;
    }
    for (const json& m : model.at("merges")) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) fail(name, ": merge \"", s, "\" has no separating space");
        v->merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (m.is_array() && m.size() == 2) {
        v->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        fail(name, ": merge entry ", m.dump(), " is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
    for (const json& a : added) {
      AddedToken t;
      t.text = a.at("content").get<std::string>();
      t.id = a.at("id").get<int32_t>();
      if (t.id < 0) fail(name, ": added token \"", t.text, "\" has negative id ", t.id);
      t.special = a.value("special", false);
      t.normalized = a.value("normalized", !t.special);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.single_word = a.value("single_word", false);
      v->pieces[t.id] = t.text;
      v->types[t.id] = t.special ? TokenType::kControl : TokenType::kUserDefined;
      v->added.push_back(std::move(t));
    }

    // BOS/EOS policy: tokenizer_config.json decides (transformers rebuilds the post-processor
    // from add_bos_token, spec §2.6); without it, the post-processor's leading special token.
    auto id_of = [&](const std::string& text) -> int32_t {
      if (text.empty()) return -1;
      for (const AddedToken& a : v->added)
        if (a.text == text) return a.id;
      for (size_t i = 0; i < v->pieces.size(); ++i)
        if (v->pieces[i] == text) return static_cast<int32_t>(i);
      return -1;
    };
    const int32_t pp_bos = post_processor_bos(tj.value("post_processor", json()));
    v->bos = id_of(token_text(config, "bos_token"));
    if (v->bos < 0) v->bos = pp_bos;
    v->eos = id_of(token_text(config, "eos_token"));
    if (config.is_object() && config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
      v->add_bos = config["add_bos_token"].get<bool>();
    else
      v->add_bos = pp_bos >= 0;
    v->chat_template = chat_template_of(config);
  } catch (const json::exception& e) {
    fail(name, ": malformed tokenizer.json: ", e.what());
  }
  v->finish();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(v)));
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf(const std::filesystem::path& path) {
  std::filesystem::path tok = path;
  if (std::filesystem::is_directory(path)) tok = path / "tokenizer.json";
  if (!std::filesystem::is_regular_file(tok)) fail(tok.string(), ": tokenizer.json not found");
  const std::filesystem::path cfg = tok.parent_path() / "tokenizer_config.json";
  json config;
  if (std::filesystem::is_regular_file(cfg)) config = parse_json_file(cfg);
  return from_hf_json(parse_json_file(tok), config, tok.string());
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return from_hf(path);
  if (!std::filesystem::exists(path)) fail(path.string(), ": no such file or directory");
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(magic, 4);
  }
  if (std::string_view(magic, 4) == "GGUF") return from_gguf(*gguf::GgufFile::open(path));
  if (path.extension() == ".json") return from_hf(path);
  fail(path.string(), ": neither a GGUF file nor a tokenizer.json");
}

}  // namespace whale::tokenizer
