// Python str methods over UTF-8 strings, used by the Jinja builtins. Internal to the chat layer.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace whale::chat::jinja {

// Code points of s (invalid bytes become one code point each, value 0xFFFD).
std::vector<std::uint32_t> decode_utf8(const std::string& s, std::vector<std::size_t>* starts = nullptr);
bool py_isspace(std::uint32_t cp);

// chars: nullopt = Python whitespace; otherwise the set of code points in chars.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
// sep nullopt = split on whitespace runs. maxsplit < 0 = no limit. Throws whale::Error on "".
std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep, long maxsplit);
std::vector<std::string> py_rsplit(const std::string& s, const std::optional<std::string>& sep, long maxsplit);
std::string py_replace(const std::string& s, const std::string& old, const std::string& with, long count,
                       std::size_t max_bytes);
std::string ascii_lower(std::string s);
std::string ascii_upper(std::string s);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
std::vector<std::string> py_splitlines(const std::string& s, bool keepends);

}  // namespace whale::chat::jinja
