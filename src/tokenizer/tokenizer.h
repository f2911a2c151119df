// Text <-> token ids for DeepSeek-family models: byte-level BPE (deepseek-v3, deepseek-llm,
// deepseek-coder, qwen2, llama-bpe, gpt-2 pre-tokenizers) and SentencePiece BPE (llama-spm).
// Spec: shared/specs/tokenizer-and-chat.md §1-§5, §7; deepseek-arch.md §3.6-§3.7.
//
// A Tokenizer is immutable after loading; every const method is safe to call from several threads
// at once. Loading throws whale::Error naming the file and the offending key/value (unknown
// pre-tokenizer, missing vocab, bad merge, ...). encode() never fails on any input bytes (invalid
// UTF-8 is tokenized byte by byte); decode() throws only on ids outside [0, vocab_size()).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace whale::gguf {
class GgufFile;
}

namespace whale::tokenizer {

struct Vocab;  // vocab.h: the loaded tables (internal)

class Tokenizer {
 public:
  // GGUF keys tokenizer.ggml.{model,pre,tokens,token_type,scores,merges,bos_token_id,...},
  // tokenizer.chat_template. Token types 3 (control) and 4 (user-defined) act as added tokens.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);
  // tokenizer.json (+ tokenizer_config.json beside it, optional), or a folder holding them.
  static std::unique_ptr<Tokenizer> from_hf(const std::filesystem::path& path);
  // Same from already-parsed JSON (tests build variants such as R1 from V3 this way).
  // `config` may be null JSON (no tokenizer_config.json). `name` is used in error messages.
  static std::unique_ptr<Tokenizer> from_hf_json(const nlohmann::json& tokenizer_json,
                                                 const nlohmann::json& config,
                                                 const std::string& name);
  // Any of: .gguf file, tokenizer.json, folder with tokenizer.json.
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& path);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_bos: prepend bos_id() when the model has one (pass add_bos_default() for a raw prompt,
  // false for a rendered chat template, which already holds the BOS text; spec §2.6 / arch §3.7).
  // parse_special: true = reference rule, every added token (HF added_tokens; GGUF types 3 and 4)
  // written in the text is recognised (leftmost-longest). false = "no specials" mode (a documented
  // deviation for untrusted user content): only user-defined added tokens are recognised, i.e.
  // those that are not special and do not look like a control marker <｜…｜> / <|…|> (this mirrors
  // the llama.cpp converter rule, so HF and GGUF loads of one model agree); markers become text.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // Concatenates token_bytes() of the ids and decodes UTF-8 lossily (each maximal invalid
  // subsequence -> U+FFFD). skip_special drops special tokens (is_special). SentencePiece: drops the
  // one leading space the prefix rule introduced. No space clean-up.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The raw bytes a token stands for (byte-level vocab entries un-mapped; SentencePiece "▁" ->
  // space and <0xXX> -> that byte; added tokens their text; unused/padding entries empty).
  // Throws on an id outside [0, vocab_size()).
  std::string token_bytes(int32_t id) const;
  const std::string& piece(int32_t id) const;  // the vocab entry as stored; throws when out of range
  int32_t vocab_size() const;                   // number of entries (incl. added tokens / padding)

  int32_t bos_id() const;  // -1 if none
  int32_t eos_id() const;  // -1 if none
  bool is_eog(int32_t id) const;      // end of generation: EOS, EOT, <|im_end|>, <|endoftext|> ...
  bool is_special(int32_t id) const;  // HF added token with special:true; GGUF type control
  bool is_control(int32_t id) const;  // is_special, or an added token shaped like <｜…｜> / <|…|>
  std::optional<int32_t> find(std::string_view piece) const;  // id of a vocab/added entry
  bool add_bos_default() const;       // the model's BOS rule (config add_bos_token / GGUF key)
  const std::string& chat_template() const;  // "" when the files carry none
  const std::string& bos_text() const;       // "" when no BOS
  const std::string& eos_text() const;       // "" when no EOS
  // "byte-level-bpe" or "sentencepiece"; and the pre-tokenizer family ("deepseek-v3", "qwen2",
  // "deepseek-llm", "deepseek-coder", "llama-bpe", "gpt2", "" for SentencePiece).
  const std::string& model_kind() const;
  const std::string& pre_tokenizer() const;

  // Pieces the pre-tokenizer cuts a plain text segment into (no added-token split, no
  // normalisation), as raw text. Byte-level BPE only; SentencePiece returns {text}.
  std::vector<std::string> pre_tokenize(std::string_view text) const;

 private:
  explicit Tokenizer(std::unique_ptr<Vocab> vocab);
  std::unique_ptr<Vocab> v_;
  friend class StreamDecoder;
};

// Streaming detokeniser for one sequence (spec §4 "Streaming"). Not thread-safe; one per sequence.
// push() returns the newly completed text: never a partial UTF-8 sequence; bytes that can never
// become valid are emitted as U+FFFD at once. The concatenation of all push() results followed by
// flush() equals tokenizer.decode(all ids, skip_special). The tokenizer must outlive the decoder.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
  std::string push(int32_t id);
  std::string flush();  // end of sequence: held bytes as U+FFFD; resets the state
  void reset();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool first_ = true;   // SentencePiece: the next text token may carry the prefix space
  std::string pending_;  // held-back incomplete UTF-8 tail (at most 3 bytes)
};

}  // namespace whale::tokenizer
