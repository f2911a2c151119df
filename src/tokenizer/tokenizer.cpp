#include "tokenizer/tokenizer.h"

#include "tokenizer/nfc.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace whale::tokenizer {
namespace {

// Byte-level BPE on one pre-tokenized piece (raw bytes).
void bpe_piece(const Vocab& v, std::string_view piece, std::vector<int32_t>& out) {
  if (v.ignore_merges) {
    // llama-bpe: a whole pre-token that is a vocab entry is emitted without merging.
    std::string mapped;
    for (char c : piece) {
      const int32_t id = v.byte_token[static_cast<uint8_t>(c)];
      if (id >= 0) mapped += v.pieces[id];
    }
    auto it = v.piece_to_id.find(mapped);
    if (it != v.piece_to_id.end()) {
      out.push_back(it->second);
      return;
    }
  }
  v.bpe->encode(piece, out);
}

// Pre-tokenizes and merges one normalised plain segment. Invalid UTF-8 never reaches the regex
// engine: each maximal invalid subsequence is its own piece.
void bpe_segment(const Vocab& v, std::string_view s, std::vector<int32_t>& out,
                 std::vector<std::pair<size_t, size_t>>& pieces) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size()) {
      const size_t n = utf8::valid_length(s, j);
      if (!n) break;
      j += n;
    }
    if (j > i) {
      pieces.clear();
      v.pre_tokenizer->split(s.substr(i, j - i), pieces);
      for (const auto& [off, len] : pieces) bpe_piece(v, s.substr(i + off, len), out);
    }
    if (j < s.size()) {
      const size_t bad = utf8::invalid_length(s, j);
      bpe_piece(v, s.substr(j, bad), out);
      j += bad;
    }
    i = j;
  }
}

void spm_segment(const Vocab& v, std::string_view s, bool prefix_space, std::vector<int32_t>& out) {
  static const std::string_view kMeta = "\xE2\x96\x81";
  std::string text;
  text.reserve(s.size() + 8);
  if (prefix_space) text += kMeta;
  for (char c : s) {
    if (c == ' ')
      text += kMeta;
    else
      text.push_back(c);
  }
  spm_encode(v, text, out);
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Vocab> vocab) : v_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  const Vocab& v = *v_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && v.bos >= 0) out.push_back(v.bos);

  std::vector<Segment> raw_segs, norm_segs;
  std::vector<std::pair<size_t, size_t>> pieces;
  v.matcher->split(text, 0, text.size(), /*want_normalized=*/false, parse_special, raw_segs);
  bool after_special = true;  // SentencePiece: prefix a space at the start and after specials
  for (const Segment& seg : raw_segs) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      after_special = true;
      continue;
    }
    std::string_view plain = text.substr(seg.offset, seg.len);
    if (v.kind == Vocab::Kind::kSentencePiece) {
      spm_segment(v, plain, v.add_space_prefix && after_special, out);
      after_special = false;
      continue;
    }
    std::string normalized;
    if (v.nfc && utf8::is_valid(plain) && !nfc_quick_check(plain)) {
      normalized = nfc(plain);
      plain = normalized;
    } else if (v.nfc && !utf8::is_valid(plain)) {
      // Normalise each valid run on its own; invalid bytes pass through unchanged.
      for (size_t i = 0; i < plain.size();) {
        size_t j = i;
        while (j < plain.size()) {
          const size_t n = utf8::valid_length(plain, j);
          if (!n) break;
          j += n;
        }
        normalized += nfc(plain.substr(i, j - i));
        if (j < plain.size()) {
          const size_t bad = utf8::invalid_length(plain, j);
          normalized.append(plain.substr(j, bad));
          j += bad;
        }
        i = j;
      }
      plain = normalized;
    }
    if (v.matcher->has_normalized()) {
      norm_segs.clear();
      v.matcher->split(plain, 0, plain.size(), /*want_normalized=*/true, parse_special, norm_segs);
      for (const Segment& ns : norm_segs) {
        if (ns.id >= 0)
          out.push_back(ns.id);
        else
          bpe_segment(v, plain.substr(ns.offset, ns.len), out, pieces);
      }
    } else {
      bpe_segment(v, plain, out, pieces);
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) v_->append_decoded(id, skip_special, first, bytes);
  return utf8::sanitize(bytes);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= v_->size())
    fail("token id ", id, " out of range (vocab size ", v_->size(), ")");
  return v_->bytes[id];
}

const std::string& Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= v_->size())
    fail("token id ", id, " out of range (vocab size ", v_->size(), ")");
  return v_->pieces[id];
}

int32_t Tokenizer::vocab_size() const { return v_->size(); }
int32_t Tokenizer::bos_id() const { return v_->bos; }
int32_t Tokenizer::eos_id() const { return v_->eos; }
bool Tokenizer::is_eog(int32_t id) const { return id >= 0 && id < v_->size() && v_->eog[id]; }
bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < v_->size() && v_->special[id];
}
bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < v_->size() && v_->control[id];
}
std::optional<int32_t> Tokenizer::find(std::string_view piece) const {
  auto it = v_->piece_to_id.find(piece);
  if (it == v_->piece_to_id.end()) return std::nullopt;
  return it->second;
}
bool Tokenizer::add_bos_default() const { return v_->add_bos && v_->bos >= 0; }
const std::string& Tokenizer::chat_template() const { return v_->chat_template; }
const std::string& Tokenizer::bos_text() const { return v_->bos_text; }
const std::string& Tokenizer::eos_text() const { return v_->eos_text; }
const std::string& Tokenizer::model_kind() const { return v_->kind_name; }
const std::string& Tokenizer::pre_tokenizer() const { return v_->pre; }

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string> out;
  if (v_->kind != Vocab::Kind::kBytePairEncoding) {
    if (!text.empty()) out.emplace_back(text);
    return out;
  }
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size()) {
      const size_t n = utf8::valid_length(text, j);
      if (!n) break;
      j += n;
    }
    if (j > i) {
      pieces.clear();
      v_->pre_tokenizer->split(text.substr(i, j - i), pieces);
      for (const auto& [off, len] : pieces) out.emplace_back(text.substr(i + off, len));
    }
    if (j < text.size()) {
      const size_t bad = utf8::invalid_length(text, j);
      out.emplace_back(text.substr(j, bad));
      j += bad;
    }
    i = j;
  }
  return out;
}

}  // namespace whale::tokenizer
