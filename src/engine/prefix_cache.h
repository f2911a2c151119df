// The prefix cache (context caching, spec api.md §5): KV blocks of 64 tokens kept after their
// request ends, so a later request that starts with the same tokens skips computing them.
//
// Index: every cached block is named by the chain hash of the whole prefix it ends
// (block_chain_hash in disk_cache.h; the chain starts at the model key), and stores its parent's
// hash, its depth and its 64 tokens, which are compared on every lookup: a hash table of prefixes
// that behaves as a radix tree with 64-token edges. Blocks live in the engine's KvPool; the cache
// holds one reference on each, a sequence using one holds another, so shared prefixes are stored
// once. Cached blocks are full and never written again; a sequence that diverges inside a block
// gets a private copy of it (copy-on-write at the divergence point) and computes from there.
//
// RAM tier: at most ram_bytes of blocks. Least recently used blocks that no sequence holds are
// evicted when the budget or the pool runs out (a lookup marks the whole matched chain used at
// once, and ties go deepest first, so a chain is evicted from its tail).
// Disk tier (optional, disk_cache.h): every block published to the RAM tier is also written
// (write-through, on the disk tier's thread; the block is pinned by an extra reference until
// written), and a lookup that runs past the RAM tier continues on disk.
//
// Threads: one thread (the engine's scheduler) only.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/disk_cache.h"
#include "model/kv_cache.h"

namespace whale::engine {

struct PrefixCacheOptions {
  int64_t ram_bytes = 0;                // RAM tier budget
  std::filesystem::path disk_dir;       // empty: no disk tier
  int64_t disk_bytes = 0;               // disk tier budget
  std::string model_identity;           // required for the disk tier
  CacheLog log;
};

struct PrefixCacheStats {
  int64_t ram_blocks = 0;
  int64_t ram_bytes = 0;
  int64_t ram_evictions = 0;
  int64_t ram_hit_blocks = 0;     // blocks reused from RAM
  int64_t cow_copies = 0;         // partial blocks copied at a divergence point
  bool disk_enabled = false;
  DiskCacheStats disk;            // disk.hits: blocks reused from disk
};

class PrefixCache {
 public:
  static constexpr int kBlockTokens = model::KvPool::kBlockTokens;

  // The key of a model's cache: its identity, the KV type and layout. Different keys never share
  // entries.
  static uint64_t model_key(const std::string& model_identity, const model::KvPool& pool);

  // The pool must outlive the cache. Throws whale::Error when the disk folder cannot be created.
  PrefixCache(model::KvPool& pool, const PrefixCacheOptions& options);

  struct Match {
    int32_t tokens = 0;       // positions now in `blocks` (full blocks, then maybe a partial copy)
    int32_t disk_blocks = 0;  // of which loaded from disk
  };
  // Appends to `blocks` (empty on entry; each block retained for the caller) the KV of the
  // longest cached prefix of `tokens` that has at most `max_tokens` tokens. `chain` caches the
  // chain hashes of `tokens`' full blocks between calls (extended as needed; the caller keeps it
  // while its tokens only grow).
  Match acquire(std::span<const int32_t> tokens, int32_t max_tokens, std::vector<uint64_t>& chain,
                std::vector<int32_t>& blocks);

  // Offers the full blocks [first, end) of a sequence (blocks[i] holds positions 64 i .. 64 i + 63
  // of `tokens`, all computed) to the cache.
  void publish(std::span<const int32_t> tokens, std::span<const int32_t> blocks, int32_t first,
               int32_t end, std::vector<uint64_t>& chain);

  // Frees one pool block held only by the cache (least recently used); false when there is none.
  bool evict_one();
  // Pool blocks that evict_one() could free now.
  int64_t evictable() const;
  // Pool blocks held by the cache alone (cached or pinned for a disk write, no sequence).
  int64_t exclusive_blocks() const;
  // Returns blocks whose disk writes finished to the pool; call once per step.
  void poll();
  // Waits for queued disk writes, then poll()s (tests, tools).
  void flush();

  PrefixCacheStats stats() const;
  // The disk tier (thread-safe), or null.
  const DiskCache* disk() const { return disk_.get(); }

 private:
  struct Node {
    int32_t block = -1;
    int32_t depth = 0;
    uint64_t parent = 0;
    uint64_t tick = 0;
    std::array<int32_t, kBlockTokens> tokens{};
  };
  using LruKey = std::tuple<uint64_t, int32_t, uint64_t>;  // (tick, -depth, hash)

  void extend_chain(std::span<const int32_t> tokens, size_t n_blocks, std::vector<uint64_t>& chain) const;
  uint64_t parent_of(const std::vector<uint64_t>& chain, size_t i) const { return i ? chain[i - 1] : key_; }
  const Node* find(uint64_t hash, uint64_t parent, int32_t depth, const int32_t* tokens) const;
  bool insert(uint64_t hash, uint64_t parent, int32_t depth, const int32_t* tokens, int32_t block);
  void remove(uint64_t hash);
  void touch(uint64_t hash, uint64_t tick);
  int32_t allocate();  // a pool block, evicting if needed; -1 when none can be had

  model::KvPool& pool_;
  const uint64_t key_;
  const int64_t max_blocks_;
  std::unordered_map<uint64_t, Node> nodes_;
  std::set<LruKey> lru_;
  std::unordered_multimap<uint64_t, uint64_t> children_;  // parent hash -> child hash
  std::unordered_map<int32_t, int32_t> pins_;              // block -> disk writes in flight
  uint64_t tick_ = 0;
  PrefixCacheStats stats_;
  std::unique_ptr<DiskCache> disk_;
};

}  // namespace whale::engine
