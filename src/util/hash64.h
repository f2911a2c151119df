// 64-bit non-cryptographic hashing for cache keys and file checksums (prompt cache, model
// identity). Fast and well mixed, not collision-resistant against an adversary: whoever can write
// the cache folder can already make whale read anything, so integrity here means "detect
// accidents" (bit flips, truncation), not "resist attacks".
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace whale {

// The splitmix64 finaliser: a bijection on 64 bits with full avalanche.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// Streaming hasher. Input is consumed in 64-bit words (little-endian; a short tail is padded
// with its length so "ab" and "ab\0" differ); every word goes through a full mix, so any single
// changed bit changes the digest.
class Hasher64 {
 public:
  explicit Hasher64(uint64_t seed = 0x6a09e667f3bcc908ull) : h_(mix64(seed ^ 0x5851f42d4c957f2dull)) {}

  Hasher64& add_u64(uint64_t v) {
    h_ = mix64(h_ ^ v) + 0x9e3779b97f4a7c15ull;
    return *this;
  }
  Hasher64& add_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    add_u64(n);
    // Four independent lanes keep the multiplier pipeline busy on long inputs (checksums of
    // megabyte KV blocks); they are folded together at the end.
    uint64_t lane[4] = {h_, h_ ^ 0x1ull, h_ ^ 0x2ull, h_ ^ 0x3ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      for (int k = 0; k < 4; ++k) {
        uint64_t w;
        std::memcpy(&w, p + i + 8 * k, 8);
        lane[k] = mix64(lane[k] ^ w) + 0x9e3779b97f4a7c15ull;
      }
    }
    h_ = lane[0];
    for (int k = 1; k < 4; ++k) add_u64(lane[k]);
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      add_u64(w);
    }
    if (i < n) {
      uint64_t w = 0;
      std::memcpy(&w, p + i, n - i);
      add_u64(w ^ (static_cast<uint64_t>(n - i) << 56));
    }
    return *this;
  }
  Hasher64& add_string(std::string_view s) { return add_bytes(s.data(), s.size()); }

  uint64_t digest() const { return mix64(h_ ^ 0xd6e8feb86659fd93ull); }

 private:
  uint64_t h_;
};

}  // namespace whale
