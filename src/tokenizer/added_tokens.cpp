#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace whale::tokenizer {
namespace {

bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_word(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) {
  nodes_.emplace_back();  // root
  for (const AddedToken& t : tokens) {
    if (t.text.empty() || t.id < 0) continue;  // an empty token could never be matched
    uint32_t node = 0;
    for (char ch : t.text) {
      const uint8_t b = static_cast<uint8_t>(ch);
      uint32_t c = child(node, b);
      if (c == 0) {
        c = static_cast<uint32_t>(nodes_.size());
        nodes_.emplace_back();
        if (node == 0) {
          root_[b] = c;
        } else {
          auto& nx = nodes_[node].next;
          nx.insert(std::lower_bound(nx.begin(), nx.end(), std::pair<uint8_t, uint32_t>(b, 0)),
                    {b, c});
        }
      }
      node = c;
    }
    if (nodes_[node].token >= 0) continue;  // duplicate text: the first entry wins
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(t);
    has_normalized_ = has_normalized_ || t.normalized;
  }
}

uint32_t AddedTokenMatcher::child(uint32_t node, uint8_t b) const {
  if (node == 0) return root_[b];
  const auto& nx = nodes_[node].next;
  auto it = std::lower_bound(nx.begin(), nx.end(), std::pair<uint8_t, uint32_t>(b, 0));
  return (it != nx.end() && it->first == b) ? it->second : 0;
}

void AddedTokenMatcher::split(std::string_view text, size_t offset, size_t len,
                              bool want_normalized, bool include_control,
                              std::vector<Segment>& out) const {
  const size_t end = offset + len;
  size_t plain_start = offset;
  size_t p = offset;
  while (p < end) {
    // Longest eligible token starting at p.
    const AddedToken* hit = nullptr;
    uint32_t node = 0;
    for (size_t q = p; q < end; ++q) {
      node = child(node, static_cast<uint8_t>(text[q]));
      if (node == 0) break;
      const int32_t ti = nodes_[node].token;
      if (ti < 0) continue;
      const AddedToken& t = tokens_[ti];
      if (t.normalized != want_normalized || (t.control && !include_control)) continue;
      if (t.single_word &&
          ((p > offset && is_word(text[p - 1])) || (q + 1 < end && is_word(text[q + 1]))))
        continue;
      hit = &t;
    }
    if (!hit) {
      ++p;
      continue;
    }
    size_t s = p, e = p + hit->text.size();
    if (hit->lstrip)
      while (s > plain_start && is_space(text[s - 1])) --s;
    if (hit->rstrip)
      while (e < end && is_space(text[e])) ++e;
    if (s > plain_start) out.push_back({plain_start, s - plain_start, -1});
    out.push_back({s, e - s, hit->id});
    p = plain_start = e;
  }
  if (plain_start < end) out.push_back({plain_start, end - plain_start, -1});
}

}  // namespace whale::tokenizer
