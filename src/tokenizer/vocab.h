// The loaded tokenizer tables shared by the encoders and the decoder. Filled by a loader
// (gguf_loader.cpp, hf_loader.cpp), then finish() checks them and builds the derived lookups.
// Immutable afterwards.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"

namespace whale::tokenizer {

// GGUF token types (tokenizer.ggml.token_type); HF loads map onto the same values.
enum class TokenType : uint8_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
  enum class Kind { kBytePairEncoding, kSentencePiece };

  // ---- filled by the loader ----
  std::string name;  // source file, for error messages
  Kind kind = Kind::kBytePairEncoding;
  std::string pre;   // pre-tokenizer family (byte-level BPE)
  std::vector<std::string> pieces;   // entry text as stored, by id ("" for holes)
  std::vector<TokenType> types;      // by id
  std::vector<float> scores;         // SentencePiece merge priority, by id
  std::vector<AddedToken> added;     // tokens matched in raw text (HF added_tokens; GGUF 3/4)
  std::vector<std::pair<std::string, std::string>> merges;  // byte-level BPE, rank order
  bool nfc = false;             // qwen2 family normalizer
  bool ignore_merges = false;   // llama-bpe: a whole pre-token in the vocab is emitted as is
  bool add_bos = false;
  bool add_space_prefix = true;  // SentencePiece prefix rule
  int32_t bos = -1, eos = -1;
  std::vector<int32_t> extra_eog;  // loader-known end-of-generation ids besides eos
  std::string chat_template;

  // ---- derived by finish() ----
  std::string kind_name;
  std::vector<std::string> bytes;  // raw bytes each token stands for
  std::vector<uint8_t> special;    // HF special:true / GGUF control
  std::vector<uint8_t> control;    // special, or shaped like a control marker
  std::vector<uint8_t> eog;
  PieceMap piece_to_id;
  int32_t unk = -1;                      // first token of type unknown
  std::array<int32_t, 256> byte_token{};  // byte-level: single-byte token; SPM: <0xXX>; -1 none
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeMerger> bpe;
  std::unique_ptr<AddedTokenMatcher> matcher;
  std::string bos_text, eos_text;

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  void finish();  // throws whale::Error naming `name` on inconsistent tables

  // Appends the bytes token `id` contributes to a decode (spec §3/§4): nothing for skipped special
  // tokens; SentencePiece drops the prefix-rule space of the first text token. `first` is true
  // before the first token of a sequence and is updated. Throws on an id out of range.
  void append_decoded(int32_t id, bool skip_special, bool& first, std::string& out) const;
};

// True for texts shaped like a control marker: <｜…｜> or <|…|> (the GGUF converter's rule).
bool looks_like_control_marker(std::string_view text);

}  // namespace whale::tokenizer
