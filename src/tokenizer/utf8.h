// UTF-8 helpers shared by the tokenizer: validation, code point iteration and the lossy decoding
// rule of spec §4 (each maximal invalid subsequence -> one U+FFFD, as the Unicode standard's
// "maximal subpart" practice and the reference decoder do).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace whale::tokenizer::utf8 {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there do not form a
// complete valid sequence (invalid lead, bad continuation, overlong, surrogate, > U+10FFFF, or
// truncated at the end of s).
size_t valid_length(std::string_view s, size_t i);

// Length of the maximal subpart at s[i] that is a proper prefix of some valid sequence but is
// cut off by the end of s (1..3), or 0 when the bytes at s[i] can never start a valid sequence
// given what follows. Precondition: valid_length(s, i) == 0.
size_t incomplete_prefix_length(std::string_view s, size_t i);

// Number of bytes to replace with one U+FFFD at s[i] (>= 1). Precondition: valid_length == 0.
size_t invalid_length(std::string_view s, size_t i);

// Decodes the valid sequence of length n at s[i] (n from valid_length).
uint32_t decode_at(std::string_view s, size_t i, size_t n);

void append(std::string& out, uint32_t cp);

// Lossy conversion: valid sequences copied, invalid subsequences replaced by U+FFFD.
std::string sanitize(std::string_view bytes);

bool is_valid(std::string_view s);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace whale::tokenizer::utf8
