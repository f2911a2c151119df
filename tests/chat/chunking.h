// Feeds a text to a streaming parser in different chunkings (one byte at a time, random cuts)
// so tests can check that the result does not depend on where chunks were cut.
#pragma once
#include <random>
#include <string>
#include <vector>

namespace whale::testing {

inline std::vector<std::string> random_chunks(const std::string& text, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t n = std::uniform_int_distribution<std::size_t>(1, 12)(rng);
    out.push_back(text.substr(pos, n));
    pos += n;
  }
  return out;
}

inline std::vector<std::string> byte_chunks(const std::string& text) {
  std::vector<std::string> out;
  for (char c : text) out.emplace_back(1, c);
  return out;
}

}  // namespace whale::testing
