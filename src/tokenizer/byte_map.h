// The byte-level BPE byte <-> code point mapping (spec §2.4): every byte gets a printable code
// point so vocab strings never hold raw control bytes or spaces.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace whale::tokenizer::byte_map {

// Code point standing for byte b.
uint32_t to_code_point(uint8_t b);
// Byte a code point stands for, or nullopt when cp is not one of the 256 mapped code points.
std::optional<uint8_t> to_byte(uint32_t cp);

// UTF-8 of the mapped form of raw bytes ("a b" -> "aĠb").
std::string encode(std::string_view bytes);
// Raw bytes of a mapped string; nullopt when the string is not valid UTF-8 or contains a code
// point outside the map (such strings, e.g. "<｜User｜>", stand for their own UTF-8 bytes).
std::optional<std::string> decode(std::string_view mapped);

}  // namespace whale::tokenizer::byte_map
