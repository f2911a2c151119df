#include "tokenizer/bpe.h"

#include <queue>

namespace whale::tokenizer {
namespace {

inline size_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return static_cast<size_t>(k);
}

// Pieces up to this many symbols use a plain scan per merge (cheaper than a heap for the short
// pieces that dominate real text); longer ones use the heap so cost stays O(n log n).
constexpr size_t kScanLimit = 48;

}  // namespace

BpeMerger::BpeMerger(const std::array<int32_t, 256>& byte_token) : byte_token_(byte_token) {
  slots_.resize(1024);
}

const BpeMerger::Slot* BpeMerger::find(int32_t a, int32_t b) const {
  const uint64_t k = key(a, b);
  const size_t mask = slots_.size() - 1;
  for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key == k) return &s;
    if (s.key == kEmpty) return nullptr;
  }
}

void BpeMerger::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.resize(old.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = mix(s.key) & mask;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void BpeMerger::add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t k = key(left, right);
  const size_t mask = slots_.size() - 1;
  size_t i = mix(k) & mask;
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == k) return;  // first (lowest) rank wins
    i = (i + 1) & mask;
  }
  slots_[i] = {k, rank, merged};
  ++count_;
}

void BpeMerger::encode(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> sym;
  sym.reserve(piece.size());
  for (char c : piece) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) sym.push_back(id);
  }
  const size_t n = sym.size();
  if (n <= 1) {
    out.insert(out.end(), sym.begin(), sym.end());
    return;
  }
  if (n <= kScanLimit) {
    for (;;) {
      int32_t best_rank = INT32_MAX, best_merged = -1;
      size_t best = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        const Slot* s = find(sym[i], sym[i + 1]);
        if (s && s->rank < best_rank) {
          best_rank = s->rank;
          best_merged = s->merged;
          best = i;
        }
      }
      if (best_merged < 0) break;
      sym[best] = best_merged;
      sym.erase(sym.begin() + static_cast<long>(best) + 1);
    }
    out.insert(out.end(), sym.begin(), sym.end());
    return;
  }
  // Linked list of symbols plus a min-heap of candidate merges keyed by (rank, left position);
  // entries whose symbols changed since they were pushed are skipped when popped.
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    int32_t rank, pos, left, right, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    if (const Slot* s = find(sym[i], sym[next[i]]))
      heap.push({s->rank, i, sym[i], sym[next[i]], s->merged});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  std::vector<uint8_t> dead(n, 0);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t j = next[c.pos];
    if (dead[c.pos] || j < 0 || sym[c.pos] != c.left || sym[j] != c.right) continue;
    sym[c.pos] = c.merged;
    dead[j] = 1;
    next[c.pos] = next[j];
    if (next[j] >= 0) prev[next[j]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(sym[i]);
}

}  // namespace whale::tokenizer
