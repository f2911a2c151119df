#include "tokenizer/spm.h"

#include <queue>
#include <string>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace whale::tokenizer {
namespace {

struct Symbol {
  size_t start, len;
  int32_t prev, next;
};

// Only ordinary pieces take part in merging: control, unknown, byte and unused entries stand for
// something other than their text.
int32_t mergeable_id(const Vocab& v, std::string_view s) {
  auto it = v.piece_to_id.find(s);
  if (it == v.piece_to_id.end()) return -1;
  const TokenType t = v.types[it->second];
  return (t == TokenType::kNormal || t == TokenType::kUserDefined) ? it->second : -1;
}

}  // namespace

void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Symbol> sym;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8::valid_length(text, i);
    if (!n) n = 1;  // an invalid byte is its own symbol and ends up as a byte token
    sym.push_back({i, n, static_cast<int32_t>(sym.size()) - 1, -1});
    i += n;
  }
  for (size_t i = 0; i + 1 < sym.size(); ++i) sym[i].next = static_cast<int32_t>(i + 1);

  struct Cand {
    float score;
    int32_t left, right;
    size_t len;  // combined length when pushed; a change means the entry is stale
    bool operator<(const Cand& o) const {
      return score != o.score ? score < o.score : left > o.left;  // max score, then leftmost
    }
  };
  std::priority_queue<Cand> heap;
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const std::string_view s = text.substr(sym[l].start, sym[l].len + sym[r].len);
    const int32_t id = mergeable_id(v, s);
    if (id >= 0) heap.push({v.scores[id], l, r, s.size()});
  };
  for (size_t i = 0; i + 1 < sym.size(); ++i)
    try_pair(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }
  for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string_view s = text.substr(sym[i].start, sym[i].len);
    if (const int32_t id = mergeable_id(v, s); id >= 0) {
      out.push_back(id);
      continue;
    }
    bool all_bytes = true;
    for (char ch : s) all_bytes = all_bytes && v.byte_token[static_cast<uint8_t>(ch)] >= 0;
    if (all_bytes) {
      for (char ch : s) out.push_back(v.byte_token[static_cast<uint8_t>(ch)]);
    } else if (v.unk >= 0) {
      out.push_back(v.unk);
    }
  }
}

}  // namespace whale::tokenizer
