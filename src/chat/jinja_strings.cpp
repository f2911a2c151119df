// Python str semantics on UTF-8 (whitespace = str.isspace, counts in code points).
#include "chat/jinja_strings.h"

#include <algorithm>

#include "util/error.h"

namespace whale::chat::jinja {

std::vector<std::uint32_t> decode_utf8(const std::string& s, std::vector<std::size_t>* starts) {
  std::vector<std::uint32_t> out;
  std::size_t k = 0;
  while (k < s.size()) {
    if (starts) starts->push_back(k);
    auto c = static_cast<unsigned char>(s[k]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
    bool ok = n >= 0 && k + static_cast<std::size_t>(n) < s.size();
    for (int j = 1; ok && j <= n; ++j) {
      auto d = static_cast<unsigned char>(s[k + static_cast<std::size_t>(j)]);
      if ((d & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++k;
      continue;
    }
    out.push_back(cp);
    k += static_cast<std::size_t>(n) + 1;
  }
  return out;
}

bool py_isspace(std::uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
  std::vector<std::size_t> starts;
  std::vector<std::uint32_t> cps = decode_utf8(s, &starts);
  std::vector<std::uint32_t> set;
  if (chars) set = decode_utf8(*chars);
  auto strip_it = [&](std::uint32_t c) {
    return chars ? std::find(set.begin(), set.end(), c) != set.end() : py_isspace(c);
  };
  std::size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  std::size_t sb = b < starts.size() ? starts[b] : s.size();
  std::size_t se = e < starts.size() ? starts[e] : s.size();
  return s.substr(sb, se - sb);
}

std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep, long maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) whale::fail("ValueError: empty separator");
    std::size_t pos = 0;
    while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
      std::size_t f = s.find(*sep, pos);
      if (f == std::string::npos) break;
      out.push_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.push_back(s.substr(pos));
    return out;
  }
  std::vector<std::size_t> starts;
  std::vector<std::uint32_t> cps = decode_utf8(s, &starts);
  starts.push_back(s.size());
  std::size_t k = 0;
  while (k < cps.size()) {
    while (k < cps.size() && py_isspace(cps[k])) ++k;
    if (k >= cps.size()) break;
    if (maxsplit >= 0 && static_cast<long>(out.size()) >= maxsplit) {
      out.push_back(py_strip(s.substr(starts[k]), std::nullopt, false, true));
      return out;
    }
    std::size_t b = k;
    while (k < cps.size() && !py_isspace(cps[k])) ++k;
    out.push_back(s.substr(starts[b], starts[k] - starts[b]));
  }
  return out;
}

std::vector<std::string> py_rsplit(const std::string& s, const std::optional<std::string>& sep, long maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) whale::fail("ValueError: empty separator");
    std::size_t end = s.size();
    while (static_cast<long>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      std::size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string::npos) break;
      out.push_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  // Whitespace form: scan words from the right; the remainder (left-stripped of nothing,
  // right-stripped) is the head.
  std::vector<std::size_t> starts;
  std::vector<std::uint32_t> cps = decode_utf8(s, &starts);
  starts.push_back(s.size());
  std::size_t k = cps.size();
  while (true) {
    while (k > 0 && py_isspace(cps[k - 1])) --k;
    if (k == 0) break;
    if (static_cast<long>(out.size()) >= maxsplit) {
      out.push_back(py_strip(s.substr(0, starts[k]), std::nullopt, true, false));
      break;
    }
    std::size_t e = k;
    while (k > 0 && !py_isspace(cps[k - 1])) --k;
    out.push_back(s.substr(starts[k], starts[e] - starts[k]));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& with, long count,
                       std::size_t max_bytes) {
  std::string out;
  long n = 0;
  if (old.empty()) {
    std::vector<std::size_t> starts;
    decode_utf8(s, &starts);
    starts.push_back(s.size());
    for (std::size_t k = 0; k < starts.size(); ++k) {
      if (count < 0 || n < count) {
        out += with;
        ++n;
      }
      if (k + 1 < starts.size()) out.append(s, starts[k], starts[k + 1] - starts[k]);
      if (out.size() > max_bytes) whale::fail("replace: result larger than the output limit");
    }
    return out;
  }
  std::size_t pos = 0;
  while (count < 0 || n < count) {
    std::size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += with;
    if (out.size() > max_bytes) whale::fail("replace: result larger than the output limit");
    pos = f + old.size();
    ++n;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
std::string ascii_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_letter = false;
  for (char& c : out) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) c = prev_letter ? ascii_lower(std::string(1, c))[0] : ascii_upper(std::string(1, c))[0];
    prev_letter = letter || static_cast<unsigned char>(c) >= 0x80;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = ascii_upper(out.substr(0, 1))[0];
  return out;
}

std::vector<std::string> py_splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  std::size_t b = 0, k = 0;
  while (k < s.size()) {
    if (s[k] == '\n' || s[k] == '\r') {
      std::size_t e = k + ((s[k] == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ? 2 : 1);
      out.push_back(s.substr(b, (keepends ? e : k) - b));
      b = k = e;
    } else {
      ++k;
    }
  }
  if (b < s.size()) out.push_back(s.substr(b));
  return out;
}

}  // namespace whale::chat::jinja
