// Fuzzes Tokenizer::encode with arbitrary bytes (invalid UTF-8 included), parse_special on and
// off, then decode and the streaming decoder. Besides "no crash" it checks two invariants:
// streaming output equals decode(), and for byte-level BPE without normalisation
// decode(encode(x)) equals x with invalid UTF-8 replaced (the encoding is lossless).
// Tokenizers: fixture deepseek-v3 and qwen3 tokenizer.json and the llama-spm GGUF, found via
// $WHALE_FIXTURES or ../shared/fixtures beside the source tree; else a tiny built-in vocab.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "tokenizer/byte_map.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using whale::tokenizer::Tokenizer;

std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("WHALE_FIXTURES"); env && *env) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

// 256 byte tokens, a few merges, two added tokens, deepseek-v3 pre-tokenizer.
std::unique_ptr<Tokenizer> tiny_tokenizer() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[whale::tokenizer::byte_map::encode(std::string(1, static_cast<char>(b)))] = b;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["\xC4\xA0" "h"] = 259;  // "Ġh"
  json tj = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", "l l", "he ll", "\xC4\xA0 h"}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}{1,3}"}}}},
          {{"type", "Split"}, {"pattern", {{"Regex", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}}}},
          {{"type", "Split"},
           {"pattern",
            {{"Regex",
              "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
              "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}}}}}}}},
      {"added_tokens",
       {{{"id", 260}, {"content", "<|bos|>"}, {"special", true}},
        {{"id", 261}, {"content", "<think>"}, {"special", false}}}},
  };
  json cfg = {{"bos_token", "<|bos|>"}, {"add_bos_token", true}};
  return Tokenizer::from_hf_json(tj, cfg, "built-in fuzz vocab");
}

struct Set {
  std::vector<std::unique_ptr<Tokenizer>> toks;
  std::vector<bool> lossless;  // byte-level BPE without NFC
};

const Set& tokenizers() {
  static const Set set = [] {
    Set s;
    const auto dir = fixtures_dir() / "tokenizer";
    try {
      if (std::filesystem::exists(dir / "deepseek-v3" / "tokenizer.json")) {
        s.toks.push_back(Tokenizer::from_hf(dir / "deepseek-v3"));
        s.lossless.push_back(true);
      }
      if (std::filesystem::exists(dir / "qwen3" / "tokenizer.json")) {
        s.toks.push_back(Tokenizer::from_hf(dir / "qwen3"));
        s.lossless.push_back(false);
      }
      const auto spm = dir / "llama.cpp-vocab" / "ggml-vocab-llama-spm.gguf";
      if (std::filesystem::exists(spm)) {
        s.toks.push_back(Tokenizer::from_gguf(*whale::gguf::GgufFile::open(spm)));
        s.lossless.push_back(false);
      }
    } catch (const std::exception&) {
      s.toks.clear();
      s.lossless.clear();
    }
    if (s.toks.empty()) {
      s.toks.push_back(tiny_tokenizer());
      s.lossless.push_back(true);
    }
    return s;
  }();
  return set;
}

}  // namespace

// Loading the fixture vocabularies takes seconds under the sanitizers; do it before the per-input
// timeout starts counting.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Set& set = tokenizers();
  if (size == 0) return 0;
  const uint8_t ctl = data[0];
  const size_t which = ctl % set.toks.size();
  const Tokenizer& tok = *set.toks[which];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  for (bool special : {false, true}) {
    const auto ids = tok.encode(text, (ctl & 0x80) != 0, special);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    const bool skip = (ctl & 0x40) != 0;
    const std::string whole = tok.decode(ids, skip);
    whale::tokenizer::StreamDecoder sd(tok, skip);
    std::string streamed;
    for (int32_t id : ids) streamed += sd.push(id);
    streamed += sd.flush();
    if (streamed != whole) __builtin_trap();
    if (set.lossless[which] && !skip && !(ctl & 0x80) &&
        whole != whale::tokenizer::utf8::sanitize(text))
      __builtin_trap();
  }
  return 0;
}
