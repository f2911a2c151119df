// Strict UTF-8 validation for names read from model files (GGUF keys and tensor names,
// safetensors names): rejects overlong forms, surrogates, code points above U+10FFFF and
// truncated sequences, so a name can always be printed and used as a JSON string.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace whale::formats {

// Byte offset of the first invalid byte in `s`, or s.size() when all of it is valid UTF-8.
inline size_t utf8_invalid_at(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

inline bool is_valid_utf8(std::string_view s) { return utf8_invalid_at(s) == s.size(); }

}  // namespace whale::formats
