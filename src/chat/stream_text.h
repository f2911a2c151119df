// Small helpers shared by the streaming parsers (reasoning.cpp, tool_calls.cpp).
#pragma once
#include <string>
#include <vector>

namespace whale::chat {

// Length of the longest suffix of `s` that is a proper prefix of one of `markers`: the part a
// streaming parser must hold back because the next bytes may complete a marker.
inline std::size_t partial_marker_suffix(const std::string& s, const std::vector<std::string>& markers) {
  std::size_t best = 0;
  for (const auto& m : markers) {
    std::size_t max_len = std::min(s.size(), m.size() - 1);
    for (std::size_t len = max_len; len > best; --len)
      if (s.compare(s.size() - len, len, m, 0, len) == 0) {
        best = len;
        break;
      }
  }
  return best;
}

inline bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline std::string trim_ascii(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_ascii_space(s[b])) ++b;
  while (e > b && is_ascii_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace whale::chat
