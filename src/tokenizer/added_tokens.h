// Recognition of added (special) tokens in raw text (spec §2.1): leftmost-longest over the whole
// set, in two passes like the reference (tokens with normalized:false on the raw text, then
// normalized:true ones on each normalised plain segment).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace whale::tokenizer {

struct AddedToken {
  std::string text;
  int32_t id = -1;
  bool special = false;     // HF "special"; GGUF type control
  bool normalized = false;  // matched after normalisation (HF "normalized")
  // HF flags; false for every token of the families whale targets (spec §2.1), honoured anyway.
  bool lstrip = false, rstrip = false, single_word = false;
  bool control = false;     // derived: special or shaped like <｜…｜> / <|…|>
};

// One piece of a split: either plain text [offset, offset+len) or an added token id.
struct Segment {
  size_t offset = 0;
  size_t len = 0;
  int32_t id = -1;  // -1: plain text
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  // Splits text[offset, offset+len) into plain segments and token matches; only tokens with
  // `normalized == want_normalized` and (include_control || !control) take part.
  void split(std::string_view text, size_t offset, size_t len, bool want_normalized,
             bool include_control, std::vector<Segment>& out) const;

  bool has_normalized() const { return has_normalized_; }
  bool empty() const { return tokens_.empty(); }

 private:
  // Byte trie over the token texts; a walk from each text position finds every token starting
  // there in one pass (cost bounded by the longest match, not by the number of tokens).
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> next;  // sorted by byte
    int32_t token = -1;                               // index into tokens_ ending here
  };
  uint32_t child(uint32_t node, uint8_t b) const;  // 0 = none (the root is never a child)

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  std::array<uint32_t, 256> root_{};  // children of the root, direct-indexed
  bool has_normalized_ = false;
};

}  // namespace whale::tokenizer
