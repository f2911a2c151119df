#include "tokenizer/utf8.h"

namespace whale::tokenizer::utf8 {
namespace {

// Allowed range of the second byte for each lead byte (Unicode Table 3-7, well-formed UTF-8);
// the third and fourth bytes are always 80..BF.
struct LeadInfo {
  uint8_t len;
  uint8_t lo;
  uint8_t hi;
};

LeadInfo lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};  // no overlongs
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // <= U+10FFFF
  return {0, 0, 0};
}

// How many bytes starting at s[i] are a well-formed prefix (up to the full sequence length).
size_t well_formed_prefix(std::string_view s, size_t i, size_t* full_len) {
  const LeadInfo li = lead_info(static_cast<uint8_t>(s[i]));
  *full_len = li.len;
  if (li.len == 0) return 0;
  if (li.len == 1) return 1;
  size_t k = 1;
  for (; k < li.len && i + k < s.size(); ++k) {
    const uint8_t c = static_cast<uint8_t>(s[i + k]);
    const bool ok = k == 1 ? (c >= li.lo && c <= li.hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  return k;
}

}  // namespace

size_t valid_length(std::string_view s, size_t i) {
  const uint8_t b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) return 1;
  size_t full = 0;
  const size_t k = well_formed_prefix(s, i, &full);
  return (full != 0 && k == full) ? full : 0;
}

size_t incomplete_prefix_length(std::string_view s, size_t i) {
  size_t full = 0;
  const size_t k = well_formed_prefix(s, i, &full);
  if (full == 0 || k == full) return 0;
  return i + k == s.size() ? k : 0;
}

size_t invalid_length(std::string_view s, size_t i) {
  size_t full = 0;
  const size_t k = well_formed_prefix(s, i, &full);
  return k == 0 ? 1 : k;
}

uint32_t decode_at(std::string_view s, size_t i, size_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + i);
  switch (n) {
    case 1: return p[0];
    case 2: return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    case 3: return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    default:
      return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
             (p[3] & 0x3Fu);
  }
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_length(s, i);
    if (n) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append(kReplacement);
      i += invalid_length(s, i);
    }
  }
  return out;
}

bool is_valid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_length(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

}  // namespace whale::tokenizer::utf8
