#include "tokenizer/vocab.h"

#include <cstdio>

#include "tokenizer/byte_map.h"
#include "util/error.h"

namespace whale::tokenizer {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// "▁" (U+2581) stands for a space in SentencePiece pieces.
std::string spm_piece_bytes(std::string_view piece) {
  static const std::string_view kMeta = "\xE2\x96\x81";
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kMeta.size(), kMeta) == 0) {
      out.push_back(' ');
      i += kMeta.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

// "<0x41>" -> 0x41; -1 when the piece is not of that form.
int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || !starts_with(p, "<0x") || p[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = p[i];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10
          : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// End-of-generation markers used by the model families whale serves, besides the EOS id.
bool is_eog_text(std::string_view t) {
  static const char* const kTexts[] = {
      "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|EOT|>", "<|end|>",
      "<end_of_turn>", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>",
  };
  for (const char* k : kTexts)
    if (t == k) return true;
  return false;
}

}  // namespace

bool looks_like_control_marker(std::string_view t) {
  static const std::string_view kOpen = "<\xEF\xBD\x9C", kClose = "\xEF\xBD\x9C>";  // <｜ ｜>
  if (t.size() >= kOpen.size() + kClose.size() && starts_with(t, kOpen) && ends_with(t, kClose))
    return true;
  return t.size() >= 4 && starts_with(t, "<|") && ends_with(t, "|>");
}

void Vocab::finish() {
  const size_t n = pieces.size();
  if (n == 0) fail(name, ": tokenizer has no vocabulary entries");
  if (types.size() != n) {
    if (!types.empty())
      fail(name, ": token_type has ", types.size(), " entries but there are ", n, " tokens");
    types.assign(n, TokenType::kNormal);
  }
  if (kind == Kind::kSentencePiece && scores.size() != n) {
    if (!scores.empty())
      fail(name, ": scores has ", scores.size(), " entries but there are ", n, " tokens");
    scores.assign(n, 0.0f);
  }
  kind_name = kind == Kind::kBytePairEncoding ? "byte-level-bpe" : "sentencepiece";
  for (int32_t* id : {&bos, &eos})
    if (*id >= static_cast<int32_t>(n))
      fail(name, ": special token id ", *id, " out of range (vocab size ", n, ")");
  for (const AddedToken& a : added)
    if (a.id < 0 || a.id >= static_cast<int32_t>(n))
      fail(name, ": added token \"", a.text, "\" has id ", a.id, " out of range (vocab size ", n,
           ")");

  piece_to_id.clear();
  piece_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (!pieces[i].empty()) piece_to_id.emplace(pieces[i], static_cast<int32_t>(i));

  special.assign(n, 0);
  control.assign(n, 0);
  for (size_t i = 0; i < n; ++i)
    if (types[i] == TokenType::kControl) special[i] = control[i] = 1;
  for (AddedToken& a : added) {
    a.control = a.special || looks_like_control_marker(a.text);
    if (a.special) special[a.id] = 1;
    if (a.control) control[a.id] = 1;
  }

  unk = -1;
  for (size_t i = 0; i < n && unk < 0; ++i)
    if (types[i] == TokenType::kUnknown) unk = static_cast<int32_t>(i);

  bytes.assign(n, std::string());
  byte_token.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = pieces[i];
    if (types[i] == TokenType::kUnused) continue;
    if (kind == Kind::kBytePairEncoding) {
      auto raw = byte_map::decode(p);
      bytes[i] = raw ? std::move(*raw) : p;  // non-mapped text stands for its own UTF-8
    } else if (types[i] == TokenType::kByte) {
      const int b = parse_byte_piece(p);
      if (b < 0) fail(name, ": byte token ", i, " has text \"", p, "\", expected <0xXX>");
      bytes[i] = std::string(1, static_cast<char>(b));
      if (byte_token[b] < 0) byte_token[b] = static_cast<int32_t>(i);
    } else if (types[i] == TokenType::kNormal || types[i] == TokenType::kUserDefined) {
      bytes[i] = spm_piece_bytes(p);
    } else {
      bytes[i] = p;
    }
  }

  if (kind == Kind::kBytePairEncoding) {
    for (int b = 0; b < 256; ++b) {
      auto it = piece_to_id.find(byte_map::encode(std::string(1, static_cast<char>(b))));
      if (it != piece_to_id.end()) byte_token[b] = it->second;
    }
    bpe = std::make_unique<BpeMerger>(byte_token);
    int32_t rank = 0;
    std::string joined;
    for (const auto& [l, r] : merges) {
      auto li = piece_to_id.find(l), ri = piece_to_id.find(r);
      joined = l;
      joined += r;
      auto mi = piece_to_id.find(joined);
      // A merge naming entries missing from the vocab can never apply; the reference loader
      // rejects such files, llama.cpp skips them. Skipping keeps odd but usable files loadable.
      if (li != piece_to_id.end() && ri != piece_to_id.end() && mi != piece_to_id.end())
        bpe->add_merge(li->second, ri->second, mi->second, rank);
      ++rank;
    }
    merges.clear();
    merges.shrink_to_fit();
    if (!PreTokenizer::known(pre)) fail(name, ": unknown pre-tokenizer \"", pre, "\"");
    pre_tokenizer = std::make_unique<PreTokenizer>(pre);
  }

  matcher = std::make_unique<AddedTokenMatcher>(added);

  eog.assign(n, 0);
  if (eos >= 0) eog[eos] = 1;
  for (int32_t id : extra_eog)
    if (id >= 0 && id < static_cast<int32_t>(n)) eog[id] = 1;
  for (const AddedToken& a : added)
    if (is_eog_text(a.text)) eog[a.id] = 1;
  for (size_t i = 0; i < n; ++i)
    if (types[i] == TokenType::kControl && is_eog_text(pieces[i])) eog[i] = 1;

  bos_text = bos >= 0 ? pieces[bos] : std::string();
  eos_text = eos >= 0 ? pieces[eos] : std::string();
}

void Vocab::append_decoded(int32_t id, bool skip_special, bool& first, std::string& out) const {
  if (id < 0 || id >= size()) fail("token id ", id, " out of range (vocab size ", size(), ")");
  if (skip_special && special[id]) return;
  const std::string& b = bytes[id];
  const bool text = types[id] == TokenType::kNormal || types[id] == TokenType::kUserDefined;
  if (first && kind == Kind::kSentencePiece && add_space_prefix && text && !b.empty() &&
      b[0] == ' ')
    out.append(b, 1);
  else
    out += b;
  first = false;
}

}  // namespace whale::tokenizer
