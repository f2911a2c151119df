// Rank-ordered BPE merging over token ids (spec §2.5). Pieces start as one symbol per byte
// (the single-byte tokens); the adjacent pair of lowest merge rank (ties: leftmost) is merged
// until no pair has a rank. Works on ids, not strings, so the inner loop is hash lookups only.
// Thread-safe after construction.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace whale::tokenizer {

class BpeMerger {
 public:
  // byte_token[b]: id of the token for the single byte b (-1: none; such bytes are dropped like
  // the reference does for symbols missing from a vocab without an unknown token).
  explicit BpeMerger(const std::array<int32_t, 256>& byte_token);

  // Registers merge `rank` (left + right -> merged). Later duplicates of a pair are ignored.
  void add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank);

  // Appends the ids of the raw bytes `piece` after merging.
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  size_t merge_count() const { return count_; }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Slot* find(int32_t a, int32_t b) const;
  void grow();

  std::array<int32_t, 256> byte_token_;
  std::vector<Slot> slots_;  // open addressing, power-of-two size, linear probing
  size_t count_ = 0;
};

}  // namespace whale::tokenizer
