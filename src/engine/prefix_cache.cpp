#include "engine/prefix_cache.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "util/error.h"
#include "util/hash64.h"

namespace whale::engine {

uint64_t PrefixCache::model_key(const std::string& model_identity, const model::KvPool& pool) {
  Hasher64 h(0x77686c2d6b763031ull);  // "whl-kv01"
  h.add_u64(DiskCache::kVersion);
  h.add_string(model_identity);
  h.add_string(model::kv_type_name(pool.type()));
  h.add_u64(static_cast<uint64_t>(pool.layout().n_layers));
  h.add_u64(static_cast<uint64_t>(pool.layout().values_per_token));
  h.add_u64(pool.block_bytes());
  return h.digest();
}

PrefixCache::PrefixCache(model::KvPool& pool, const PrefixCacheOptions& o)
    : pool_(pool),
      key_(model_key(o.model_identity, pool)),
      max_blocks_(o.ram_bytes > 0 ? o.ram_bytes / static_cast<int64_t>(pool.block_bytes()) : 0) {
  if (!o.disk_dir.empty() && !o.model_identity.empty() && o.disk_bytes > 0) {
    disk_ = std::make_unique<DiskCache>(o.disk_dir, key_, static_cast<uint32_t>(pool.type()),
                                        pool.block_bytes(), o.disk_bytes, o.log);
    stats_.disk_enabled = true;
  }
}

void PrefixCache::extend_chain(std::span<const int32_t> tokens, size_t n_blocks,
                               std::vector<uint64_t>& chain) const {
  while (chain.size() < n_blocks) {
    const size_t i = chain.size();
    chain.push_back(block_chain_hash(parent_of(chain, i), tokens.data() + i * kBlockTokens));
  }
}

const PrefixCache::Node* PrefixCache::find(uint64_t hash, uint64_t parent, int32_t depth,
                                           const int32_t* tokens) const {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return nullptr;
  const Node& n = it->second;
  // The hash names the prefix; the stored parent, depth and tokens make a collision a miss.
  if (n.parent != parent || n.depth != depth ||
      std::memcmp(n.tokens.data(), tokens, sizeof n.tokens) != 0)
    return nullptr;
  return &n;
}

void PrefixCache::touch(uint64_t hash, uint64_t tick) {
  Node& n = nodes_.at(hash);
  lru_.erase({n.tick, -n.depth, hash});
  n.tick = tick;
  lru_.insert({n.tick, -n.depth, hash});
}

bool PrefixCache::insert(uint64_t hash, uint64_t parent, int32_t depth, const int32_t* tokens,
                         int32_t block) {
  if (max_blocks_ <= 0 || nodes_.count(hash)) return false;
  while (static_cast<int64_t>(nodes_.size()) >= max_blocks_)
    if (!evict_one()) return false;
  Node n;
  n.block = block;
  n.depth = depth;
  n.parent = parent;
  n.tick = tick_;
  std::memcpy(n.tokens.data(), tokens, sizeof n.tokens);
  pool_.retain(block);
  nodes_.emplace(hash, n);
  lru_.insert({n.tick, -n.depth, hash});
  children_.emplace(parent, hash);
  return true;
}

void PrefixCache::remove(uint64_t hash) {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return;
  const Node& n = it->second;
  lru_.erase({n.tick, -n.depth, hash});
  auto [lo, hi] = children_.equal_range(n.parent);
  for (auto c = lo; c != hi; ++c)
    if (c->second == hash) {
      children_.erase(c);
      break;
    }
  pool_.release(n.block);
  nodes_.erase(it);
}

bool PrefixCache::evict_one() {
  for (const auto& [tick, neg_depth, hash] : lru_) {
    const int32_t b = nodes_.at(hash).block;
    if (pool_.refcount(b) != 1) continue;  // a sequence uses it, or a disk write reads it
    remove(hash);
    ++stats_.ram_evictions;
    return true;
  }
  return false;
}

int64_t PrefixCache::evictable() const {
  int64_t n = 0;
  for (const auto& [hash, node] : nodes_) n += pool_.refcount(node.block) == 1;
  return n;
}

int64_t PrefixCache::exclusive_blocks() const {
  int64_t n = 0;
  if (pins_.empty()) {  // the common case, once per step: keep it a plain scan
    for (const auto& [hash, node] : nodes_) n += pool_.refcount(node.block) == 1;
    return n;
  }
  std::unordered_set<int32_t> cached;
  for (const auto& [hash, node] : nodes_) {
    cached.insert(node.block);
    auto p = pins_.find(node.block);
    n += pool_.refcount(node.block) == 1 + (p == pins_.end() ? 0 : p->second);
  }
  for (const auto& [block, pins] : pins_)
    if (!cached.count(block)) n += pool_.refcount(block) == pins;
  return n;
}

int32_t PrefixCache::allocate() {
  int32_t b = pool_.allocate();
  while (b < 0 && evict_one()) b = pool_.allocate();
  return b;
}

PrefixCache::Match PrefixCache::acquire(std::span<const int32_t> tokens, int32_t max_tokens,
                                        std::vector<uint64_t>& chain, std::vector<int32_t>& blocks) {
  Match m;
  if (max_tokens <= 0 || (max_blocks_ <= 0 && !disk_)) return m;
  max_tokens = std::min<int32_t>(max_tokens, static_cast<int32_t>(tokens.size()));
  const size_t n_full = static_cast<size_t>(max_tokens / kBlockTokens);
  extend_chain(tokens, n_full, chain);
  ++tick_;
  std::vector<uint64_t> used;
  uint64_t parent = key_;
  for (size_t i = 0; i < n_full; ++i) {
    const uint64_t h = chain[i];
    const int32_t* toks = tokens.data() + i * kBlockTokens;
    const auto depth = static_cast<int32_t>(i);
    if (const Node* n = find(h, parent, depth, toks)) {
      pool_.retain(n->block);
      blocks.push_back(n->block);
      ++stats_.ram_hit_blocks;
    } else if (disk_ && disk_->contains(h)) {
      const int32_t b = allocate();
      if (b < 0) break;
      const DiskBlockKey key{h, parent, depth, toks};
      if (disk_->load(key, pool_.block_data(b)) != DiskCache::Load::kOk) {
        pool_.release(b);
        break;
      }
      insert(h, parent, depth, toks, b);  // back into the RAM tier when the budget allows
      blocks.push_back(b);
      ++m.disk_blocks;
    } else {
      break;
    }
    used.push_back(h);
    parent = h;
  }
  m.tokens = static_cast<int32_t>(blocks.size()) * kBlockTokens;

  // Copy-on-write at the divergence point: a cached block that shares its first tokens with
  // the rest of the prompt gives those rows to a private copy.
  const size_t k = blocks.size();
  const int32_t room = std::min(max_tokens - m.tokens, kBlockTokens);
  if (room > 0 && max_blocks_ > 0) {
    const int32_t* rest = tokens.data() + k * kBlockTokens;
    uint64_t best_hash = 0;
    int32_t best = 0;
    auto [lo, hi] = children_.equal_range(parent);
    for (auto c = lo; c != hi; ++c) {
      const Node& n = nodes_.at(c->second);
      if (n.depth != static_cast<int32_t>(k)) continue;
      int32_t same = 0;
      while (same < room && n.tokens[same] == rest[same]) ++same;
      if (same > best) best = same, best_hash = c->second;
    }
    if (best > 0) {
      const int32_t src = nodes_.at(best_hash).block;
      pool_.retain(src);  // so that allocate() cannot evict the source
      const int32_t b = allocate();
      if (b >= 0) {
        pool_.copy_block(b, src);
        blocks.push_back(b);
        m.tokens += best;
        ++stats_.cow_copies;
        used.push_back(best_hash);
      }
      pool_.release(src);
    }
  }
  for (uint64_t h : used)
    if (nodes_.count(h)) touch(h, tick_);
  if (disk_ && !used.empty()) disk_->touch(used);
  return m;
}

void PrefixCache::publish(std::span<const int32_t> tokens, std::span<const int32_t> blocks,
                          int32_t first, int32_t end, std::vector<uint64_t>& chain) {
  if (first >= end || (max_blocks_ <= 0 && !disk_)) return;
  extend_chain(tokens, static_cast<size_t>(end), chain);
  ++tick_;
  // The whole chain is marked used at once, so under pressure it loses its tail, not its head
  // (a head-less chain could not be reached).
  for (int32_t i = 0; i < first; ++i)
    if (nodes_.count(chain[i])) touch(chain[i], tick_);
  for (int32_t i = first; i < end; ++i) {
    const uint64_t h = chain[i];
    const uint64_t parent = parent_of(chain, static_cast<size_t>(i));
    const int32_t* toks = tokens.data() + static_cast<size_t>(i) * kBlockTokens;
    const int32_t b = blocks[i];
    if (nodes_.count(h)) {
      touch(h, tick_);  // another sequence computed it first; this one keeps its own copy
    } else {
      insert(h, parent, i, toks, b);
    }
    if (disk_ && !disk_->contains(h) && !disk_->pending(h)) {
      pool_.retain(b);
      ++pins_[b];
      disk_->write(DiskBlockKey{h, parent, i, toks}, pool_.block_data(b), b);
    }
  }
}

void PrefixCache::poll() {
  if (!disk_) return;
  std::vector<int32_t> done;
  disk_->finished_writes(done);
  for (int32_t b : done) {
    auto p = pins_.find(b);
    if (p == pins_.end()) continue;
    if (--p->second == 0) pins_.erase(p);
    pool_.release(b);
  }
}

void PrefixCache::flush() {
  if (!disk_) return;
  disk_->flush();
  poll();
}

PrefixCacheStats PrefixCache::stats() const {
  PrefixCacheStats s = stats_;
  s.ram_blocks = static_cast<int64_t>(nodes_.size());
  s.ram_bytes = s.ram_blocks * static_cast<int64_t>(pool_.block_bytes());
  if (disk_) s.disk = disk_->stats();
  return s;
}

}  // namespace whale::engine
