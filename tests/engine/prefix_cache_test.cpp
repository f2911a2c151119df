// The RAM tier of the prefix cache: hit accounting as spec api.md §5 states it, outputs identical
// to greedy decoding computed without any engine, block sharing and copy-on-write, the RAM
// budget and LRU eviction, concurrent requests that share prefixes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "cache_test_util.h"
#include "engine/engine.h"
#include "engine/fake_model.h"
#include "engine/prefix_cache.h"
#include "engine_test_util.h"

namespace whale::engine {
namespace {

using testing::concat;
using testing::FakeModel;
using testing::greedy_request;
using testing::random_tokens;
using testing::reference_greedy;

constexpr int32_t kEog = 0;
constexpr int64_t kBlockBytes = 64 * FakeModel::kValues * 4;  // one layer of f32 rows

EngineOptions cache_opts(int parallel = 2) {
  EngineOptions o;
  o.max_parallel = parallel;
  o.ctx_size = 2048;
  o.kv_type = model::KvType::F32;
  o.prefill_chunk = 32;
  o.cache_ram_bytes = 256 * kBlockBytes;
  o.disk_cache = false;
  return o;
}

// Runs one greedy request to the end; returns its tokens and usage.
std::vector<int32_t> run(Engine& e, const std::vector<int32_t>& prompt, int max_tokens, Usage* usage,
                         bool stop_at_eog = false) {
  auto r = greedy_request(prompt, max_tokens);
  r.stop_at_eog = stop_at_eog;
  auto s = e.submit(r);
  auto out = collect(*s);
  EXPECT_EQ(s->finish_reason(), FinishReason::kLength) << s->error();
  if (usage) *usage = s->usage();
  return out;
}

int total_fed(const std::vector<std::vector<int>>& calls, size_t from) {
  int n = 0;
  for (size_t i = from; i < calls.size(); ++i)
    for (int x : calls[i]) n += x;
  return n;
}

TEST(PrefixCache, SecondRequestSharingALongPrefixHitsAndMatchesReference) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto engine = make_engine(model, {kEog}, cache_opts());
  std::mt19937 rng(1);
  const auto p1 = random_tokens(rng, 300, V);
  Usage u1;
  // 21 tokens: 20 of them are fed back, so positions up to 319 are computed and block 4 is full.
  EXPECT_EQ(run(*engine, p1, 21, &u1), reference_greedy(p1, V, -1, 21));
  EXPECT_EQ(u1.cached_prompt_tokens, 0);
  wait_idle(*engine);

  const auto p2 = concat(p1, random_tokens(rng, 37, V));
  const size_t calls_before = model.calls().size();
  Usage u2;
  EXPECT_EQ(run(*engine, p2, 20, &u2), reference_greedy(p2, V, -1, 20));
  EXPECT_EQ(u2.prompt_tokens, 337);
  EXPECT_EQ(u2.cached_prompt_tokens, 256);  // 300 matched, rounded down to 64
  // Only the 37 new prompt tokens are computed (the 44 shared rows of block 4 were copied),
  // then one token per decode step.
  EXPECT_EQ(total_fed(model.calls(), calls_before), 37 + 19);
  wait_idle(*engine);
  const EngineStats s = engine->stats();
  EXPECT_EQ(s.cached_prompt_tokens_total, 256);
  EXPECT_EQ(s.prompt_tokens_total, 637);
  EXPECT_EQ(s.kv_blocks_used, 0);
  // Request 1's blocks 0-4, and request 2's block 4 (another prefix); the shared blocks 0-3 once.
  EXPECT_EQ(s.cache_ram_blocks, 6);
  EXPECT_GT(s.cache_ram_blocks, 0);
  EXPECT_EQ(s.cache_ram_bytes, s.cache_ram_blocks * kBlockBytes);
  EXPECT_GE(s.cache_ram_hit_blocks_total, 4);
}

TEST(PrefixCache, HitCountsFollowTheSpec) {
  struct Case {
    int first, second, shared, want;
  };
  // shared: leading tokens the second prompt takes from the first; the rest is new.
  const Case cases[] = {
      {63, 63, 63, 0},      // under one block: never cached
      {64, 64, 64, 0},      // a full repeat still computes one token: capped at 63 -> 0
      {65, 65, 65, 64},
      {128, 128, 128, 64},
      {129, 129, 129, 128},
      {200, 260, 130, 128}, // diverges inside block 2
      {200, 200, 63, 0},    // diverges inside block 0
      {512, 600, 512, 512},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.first << "/" << c.second << "/" << c.shared);
    FakeModel model;
    const int64_t V = model.info().vocab_size;
    auto engine = make_engine(model, {kEog}, cache_opts());
    std::mt19937 rng(c.first * 1000 + c.second);
    const auto a = random_tokens(rng, c.first, V);
    std::vector<int32_t> b(a.begin(), a.begin() + c.shared);
    b = concat(b, random_tokens(rng, c.second - c.shared, V));
    Usage u;
    EXPECT_EQ(run(*engine, a, 3, &u), reference_greedy(a, V, -1, 3));
    EXPECT_EQ(u.cached_prompt_tokens, 0);
    EXPECT_EQ(run(*engine, b, 3, &u), reference_greedy(b, V, -1, 3));
    EXPECT_EQ(u.cached_prompt_tokens, c.want);
  }
}

TEST(PrefixCache, OnlyALeadingMatchCounts) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto engine = make_engine(model, {kEog}, cache_opts());
  std::mt19937 rng(2);
  const auto a = random_tokens(rng, 256, V);
  run(*engine, a, 2, nullptr);
  // Same tokens from position 64 on, but a different first block: no hit.
  auto b = random_tokens(rng, 64, V);
  b.insert(b.end(), a.begin() + 64, a.end());
  Usage u;
  EXPECT_EQ(run(*engine, b, 5, &u), reference_greedy(b, V, -1, 5));
  EXPECT_EQ(u.cached_prompt_tokens, 0);
}

TEST(PrefixCache, OffWhenRamBudgetIsZeroAndNoDisk) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto o = cache_opts();
  o.cache_ram_bytes = 0;
  auto engine = make_engine(model, {kEog}, o);
  std::mt19937 rng(3);
  const auto a = random_tokens(rng, 200, V);
  Usage u;
  run(*engine, a, 2, &u);
  EXPECT_EQ(run(*engine, a, 4, &u), reference_greedy(a, V, -1, 4));
  EXPECT_EQ(u.cached_prompt_tokens, 0);
  EXPECT_EQ(engine->stats().kv_blocks_total, 2 * 32);  // no blocks added for a cache
  EXPECT_EQ(engine->stats().cache_ram_blocks, 0);
}

TEST(PrefixCache, PoolGrowsByTheRamBudget) {
  FakeModel model;
  auto o = cache_opts();
  o.cache_ram_bytes = 10 * kBlockBytes + 5;  // whole blocks only
  auto engine = make_engine(model, {kEog}, o);
  EXPECT_EQ(engine->stats().kv_blocks_total, 2 * 32 + 10);
}

TEST(PrefixCache, RamBudgetIsNeverExceededAndLruEvictsTheOldest) {
  FakeModel model;
  model.delay_us = 50;
  const int64_t V = model.info().vocab_size;
  auto o = cache_opts();
  o.cache_ram_bytes = 4 * kBlockBytes;
  auto engine = make_engine(model, {kEog}, o);
  std::atomic<bool> done{false};
  std::atomic<int64_t> worst{0};
  std::thread watcher([&] {
    while (!done) {
      const auto s = engine->stats();
      worst = std::max<int64_t>(worst, s.cache_ram_bytes);
      EXPECT_LE(s.cache_ram_blocks, 4);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::mt19937 rng(4);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_tokens(rng, 320, V));
    Usage u;
    EXPECT_EQ(run(*engine, prompts.back(), 10, &u), reference_greedy(prompts.back(), V, -1, 10));
    EXPECT_EQ(u.cached_prompt_tokens, 0);
    EXPECT_LE(engine->stats().cache_ram_bytes, 4 * kBlockBytes);
  }
  done = true;
  watcher.join();
  EXPECT_LE(worst.load(), 4 * kBlockBytes);
  const auto s = engine->stats();
  EXPECT_EQ(s.cache_ram_blocks, 4);
  EXPECT_GT(s.cache_ram_evictions_total, 0);
  // The newest prompt kept its first four blocks (a chain loses its tail, never its head); the
  // oldest was evicted.
  Usage u;
  const auto last = concat(prompts.back(), {5, 6, 7});
  EXPECT_EQ(run(*engine, last, 4, &u), reference_greedy(last, V, -1, 4));
  EXPECT_EQ(u.cached_prompt_tokens, 256);
  const auto first = concat(prompts.front(), {5, 6, 7});
  EXPECT_EQ(run(*engine, first, 4, &u), reference_greedy(first, V, -1, 4));
  EXPECT_EQ(u.cached_prompt_tokens, 0);
}

TEST(PrefixCache, ConcurrentRequestsSharingPrefixesMatchSequentialRuns) {
  FakeModel model;
  model.delay_us = 20;
  const int64_t V = model.info().vocab_size;
  auto o = cache_opts(6);
  o.kv_blocks = 40;                      // tight: preemptions and evictions happen
  o.cache_ram_bytes = 24 * kBlockBytes;  // the cache shares those 40 blocks
  o.max_queue = 0;
  auto engine = make_engine(model, {kEog}, o);
  std::mt19937 rng(5);
  const std::vector<std::vector<int32_t>> prefixes = {
      random_tokens(rng, 200, V), random_tokens(rng, 330, V), random_tokens(rng, 129, V)};
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 30; ++i) {
    auto p = concat(prefixes[i % 3], random_tokens(rng, static_cast<int>(rng() % 80), V));
    auto r = greedy_request(p, 5 + static_cast<int>(rng() % 40));
    r.stop_at_eog = false;
    reqs.push_back(r);
  }
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      EXPECT_LE(engine->stats().cache_ram_bytes, 24 * kBlockBytes);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int64_t hits = 0;
  for (int wave = 0; wave < 2; ++wave) {
    std::vector<std::shared_ptr<Stream>> streams;
    for (const auto& r : reqs) streams.push_back(engine->submit(r));
    std::vector<std::vector<int32_t>> got(reqs.size());
    std::vector<std::thread> consumers;
    for (size_t i = 0; i < reqs.size(); ++i)
      consumers.emplace_back([&, i] { got[i] = collect(*streams[i]); });
    for (auto& t : consumers) t.join();
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(streams[i]->finish_reason(), FinishReason::kLength) << i << ": " << streams[i]->error();
      EXPECT_EQ(got[i], reference_greedy(reqs[i].prompt, V, -1, reqs[i].max_tokens)) << "request " << i;
      const int32_t c = streams[i]->usage().cached_prompt_tokens;
      EXPECT_EQ(c % 64, 0);
      EXPECT_LT(c, static_cast<int32_t>(reqs[i].prompt.size()));
      hits += c;
    }
  }
  done = true;
  watcher.join();
  wait_idle(*engine);
  const auto s = engine->stats();
  EXPECT_GT(hits, 0);
  EXPECT_EQ(s.cached_prompt_tokens_total, hits);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_LE(s.cache_ram_bytes, 24 * kBlockBytes);
}

// The cache on its own, against a pool: sharing by reference count, copy-on-write of a partial
// block, eviction only of blocks no sequence holds.
TEST(PrefixCache, SharesFullBlocksAndCopiesThePartialOne) {
  model::KvPool pool({1, FakeModel::kValues}, model::KvType::F32, 16);
  PrefixCacheOptions po;
  po.ram_bytes = 8 * static_cast<int64_t>(pool.block_bytes());
  PrefixCache cache(pool, po);
  std::mt19937 rng(6);
  const auto tokens = random_tokens(rng, 256, 48);
  std::vector<int32_t> seq;
  for (int i = 0; i < 4; ++i) {
    seq.push_back(pool.allocate());
    std::memset(pool.block_data(seq.back()), 0x10 + i, pool.block_bytes());
  }
  std::vector<uint64_t> chain;
  cache.publish(tokens, seq, 0, 4, chain);
  EXPECT_EQ(chain.size(), 4u);
  for (int32_t b : seq) EXPECT_EQ(pool.refcount(b), 2);
  EXPECT_EQ(cache.evictable(), 0);  // the sequence still holds them
  for (int32_t b : seq) pool.release(b);
  EXPECT_EQ(cache.evictable(), 4);
  EXPECT_EQ(cache.exclusive_blocks(), 4);

  std::vector<int32_t> got;
  std::vector<uint64_t> chain2;
  const auto m = cache.acquire(tokens, 255, chain2, got);
  EXPECT_EQ(m.tokens, 255);  // three whole blocks and 63 rows of the fourth
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i], seq[i]);
    EXPECT_EQ(pool.refcount(got[i]), 2);
  }
  EXPECT_NE(got[3], seq[3]);  // a private copy, writable
  EXPECT_EQ(pool.refcount(got[3]), 1);
  EXPECT_EQ(std::memcmp(pool.block_data(got[3]), pool.block_data(seq[3]), pool.block_bytes()), 0);
  EXPECT_EQ(cache.stats().cow_copies, 1);

  // Only the unshared block can go.
  EXPECT_TRUE(cache.evict_one());
  EXPECT_EQ(pool.refcount(seq[3]), 0);
  EXPECT_FALSE(cache.evict_one());
  for (int32_t b : got) pool.release(b);
  EXPECT_EQ(cache.evictable(), 3);
  // A lookup that diverges in the first block copies nothing useful: no hit.
  auto other = tokens;
  other[0] = other[0] == 1 ? 2 : 1;
  std::vector<int32_t> none;
  std::vector<uint64_t> chain3;
  EXPECT_EQ(cache.acquire(other, 255, chain3, none).tokens, 0);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace whale::engine
