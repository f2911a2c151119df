#include "tokenizer/byte_map.h"

#include <array>

#include "tokenizer/utf8.h"

namespace whale::tokenizer::byte_map {
namespace {

bool maps_to_itself(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> to_byte{};  // every mapped code point is < U+0144
};

const Tables& tables() {
  static const Tables t = [] {
    Tables r;
    r.to_byte.fill(-1);
    uint32_t next = 0x100;  // the 68 other bytes, in byte order, take U+0100, U+0101, ...
    for (unsigned b = 0; b < 256; ++b) {
      r.to_cp[b] = maps_to_itself(b) ? b : next++;
      r.to_byte[r.to_cp[b]] = static_cast<int16_t>(b);
    }
    return r;
  }();
  return t;
}

}  // namespace

uint32_t to_code_point(uint8_t b) { return tables().to_cp[b]; }

std::optional<uint8_t> to_byte(uint32_t cp) {
  if (cp >= tables().to_byte.size()) return std::nullopt;
  const int16_t b = tables().to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(out, to_code_point(static_cast<uint8_t>(c)));
  return out;
}

std::optional<std::string> decode(std::string_view mapped) {
  std::string out;
  out.reserve(mapped.size());
  size_t i = 0;
  while (i < mapped.size()) {
    const size_t n = utf8::valid_length(mapped, i);
    if (!n) return std::nullopt;
    const auto b = to_byte(utf8::decode_at(mapped, i, n));
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    i += n;
  }
  return out;
}

}  // namespace whale::tokenizer::byte_map
