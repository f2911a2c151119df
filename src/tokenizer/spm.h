// SentencePiece BPE encoding (spec §3): score-ordered merging of code points, byte fallback.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace whale::tokenizer {

struct Vocab;

// Appends the ids of `text` (already prefixed and with spaces replaced by "▁" by the caller).
// Symbols left that are not vocab entries are emitted as <0xXX> byte tokens of their bytes, or as
// the unknown token when the vocab has no byte tokens.
void spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace whale::tokenizer
