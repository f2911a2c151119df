// The disk tier of the prefix cache: hits after a restart, isolation between models, rejection of
// damaged entries, the disk budget, crash leftovers; and the real tiny DeepSeek-V3 fixture giving
// identical greedy output with and without cache hits (RAM and disk).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "cache_test_util.h"
#include "common/fixtures.h"
#include "engine/disk_cache.h"
#include "engine/engine.h"
#include "engine/fake_model.h"
#include "engine_test_util.h"
#include "model/model.h"
#include "model/model_identity.h"
#include "util/thread_pool.h"

namespace whale::engine {
namespace {

namespace fs = std::filesystem;
using testing::cache_files;
using testing::concat;
using testing::FakeModel;
using testing::folder_bytes;
using testing::greedy_request;
using testing::LogSink;
using testing::random_tokens;
using testing::reference_greedy;
using testing::TempDir;

constexpr int32_t kEog = 0;
constexpr int64_t kBlockBytes = 64 * FakeModel::kValues * 4;

EngineOptions disk_opts(const fs::path& dir, const std::string& identity, LogSink* log = nullptr) {
  EngineOptions o;
  o.max_parallel = 2;
  o.ctx_size = 2048;
  o.kv_type = model::KvType::F32;
  o.prefill_chunk = 32;
  o.cache_ram_bytes = 64 * kBlockBytes;
  o.cache_dir = dir;
  o.cache_disk_bytes = int64_t{1} << 30;
  o.model_identity = identity;
  if (log) o.log = log->fn();
  return o;
}

std::vector<int32_t> run(Engine& e, const std::vector<int32_t>& prompt, int max_tokens, Usage* usage) {
  auto r = greedy_request(prompt, max_tokens);
  r.stop_at_eog = false;
  auto s = e.submit(r);
  auto out = collect(*s);
  EXPECT_EQ(s->finish_reason(), FinishReason::kLength) << s->error();
  if (usage) *usage = s->usage();
  return out;
}

// Fills the disk cache of `dir` with the blocks of `prompt` (engine destroyed at the end, which
// finishes its writes).
void warm(const fs::path& dir, const std::string& identity, const std::vector<int32_t>& prompt) {
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir, identity));
  run(*engine, prompt, 4, nullptr);
}

// The depth field of an entry's header (block index), read the way the format defines it.
int32_t depth_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  in.seekg(40);
  int32_t d = -1;
  in.read(reinterpret_cast<char*>(&d), 4);
  return d;
}

void flip_byte(const fs::path& p, std::streamoff at) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at);
  f.write(&c, 1);
}

fs::path entry_at_depth(const fs::path& dir, int32_t depth) {
  for (const auto& p : cache_files(dir))
    if (depth_of(p) == depth) return p;
  ADD_FAILURE() << "no entry of depth " << depth;
  return {};
}

TEST(DiskCache, RestartHitsFromDiskWithIdenticalOutput) {
  TempDir dir;
  std::mt19937 rng(11);
  const int64_t V = 48;
  const auto p1 = random_tokens(rng, 300, V);
  warm(dir.path, "fake-model-a", p1);
  EXPECT_EQ(cache_files(dir.path).size(), 4u);  // 303 computed tokens: four full blocks

  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "fake-model-a"));
  EXPECT_EQ(engine->stats().cache_disk_entries, 4);
  const auto p2 = concat(p1, random_tokens(rng, 20, V));
  Usage u;
  EXPECT_EQ(run(*engine, p2, 12, &u), reference_greedy(p2, V, -1, 12));
  EXPECT_EQ(u.cached_prompt_tokens, 256);
  const auto s = engine->stats();
  EXPECT_EQ(s.cache_disk_hit_blocks_total, 4);
  EXPECT_EQ(s.cache_ram_hit_blocks_total, 0);
  EXPECT_EQ(s.cache_disk_errors_total, 0);
  // The first computed position is 256: nothing before it was recomputed.
  EXPECT_EQ(model.calls().front().front(), 32);
  int fed = 0;
  for (const auto& c : model.calls())
    for (int x : c) fed += x;
  EXPECT_EQ(fed, (320 - 256) + 11);
}

TEST(DiskCache, AnotherModelNeverHits) {
  TempDir dir;
  std::mt19937 rng(12);
  const auto p = random_tokens(rng, 300, 48);
  warm(dir.path, "fake-model-a", p);
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "fake-model-b"));
  EXPECT_EQ(engine->stats().cache_disk_entries, 0);
  EXPECT_GT(engine->stats().cache_disk_bytes, 0);  // the other model's files count for the budget
  Usage u;
  EXPECT_EQ(run(*engine, p, 5, &u), reference_greedy(p, 48, -1, 5));
  EXPECT_EQ(u.cached_prompt_tokens, 0);
  EXPECT_EQ(engine->stats().cache_disk_hit_blocks_total, 0);
}

TEST(DiskCache, AnotherKvTypeNeverHits) {
  TempDir dir;
  std::mt19937 rng(13);
  const auto p = random_tokens(rng, 300, 48);
  warm(dir.path, "fake-model-a", p);
  FakeModel model;
  auto o = disk_opts(dir.path, "fake-model-a");
  o.kv_type = model::KvType::F16;
  auto engine = make_engine(model, {kEog}, o);
  Usage u;
  EXPECT_EQ(run(*engine, p, 5, &u), reference_greedy(p, 48, -1, 5));
  EXPECT_EQ(u.cached_prompt_tokens, 0);
}

TEST(DiskCache, FlippedPayloadByteIsRejectedLoggedDeletedAndAnswerStaysRight) {
  TempDir dir;
  std::mt19937 rng(14);
  const auto p = random_tokens(rng, 300, 48);
  warm(dir.path, "fake-model-a", p);
  const fs::path victim = entry_at_depth(dir.path, 2);
  flip_byte(victim, DiskCache::kHeaderBytes + 100);

  LogSink log;
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "fake-model-a", &log));
  EXPECT_EQ(engine->stats().cache_disk_entries, 4);  // headers are fine; payloads are checked on use
  Usage u;
  EXPECT_EQ(run(*engine, p, 6, &u), reference_greedy(p, 48, -1, 6));
  EXPECT_EQ(u.cached_prompt_tokens, 128);  // blocks 0 and 1; block 2 was damaged
  EXPECT_EQ(log.count("rejected"), 1);
  EXPECT_EQ(log.count(victim.filename().string()), 1);
  const auto s = engine->stats();
  EXPECT_EQ(s.cache_disk_errors_total, 1);
  EXPECT_EQ(s.cache_disk_hit_blocks_total, 2);
  engine.reset();
  // Recomputed and written again, whole.
  EXPECT_TRUE(fs::exists(victim));
  FakeModel m2;
  auto e2 = make_engine(m2, {kEog}, disk_opts(dir.path, "fake-model-a", &log));
  EXPECT_EQ(run(*e2, p, 6, &u), reference_greedy(p, 48, -1, 6));
  EXPECT_EQ(u.cached_prompt_tokens, 256);
}

TEST(DiskCache, DamagedHeadersAndTruncatedFilesAreRejectedAtStart) {
  TempDir dir;
  std::mt19937 rng(15);
  const auto p = random_tokens(rng, 300, 48);
  warm(dir.path, "fake-model-a", p);
  const fs::path header_flip = entry_at_depth(dir.path, 3);
  const fs::path truncated = entry_at_depth(dir.path, 1);
  flip_byte(header_flip, 80);  // inside the token list
  fs::resize_file(truncated, fs::file_size(truncated) - 7);

  LogSink log;
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "fake-model-a", &log));
  EXPECT_EQ(log.count("rejected"), 2);
  EXPECT_EQ(engine->stats().cache_disk_errors_total, 2);
  EXPECT_EQ(engine->stats().cache_disk_entries, 2);
  EXPECT_FALSE(fs::exists(header_flip));
  EXPECT_FALSE(fs::exists(truncated));
  Usage u;
  EXPECT_EQ(run(*engine, p, 6, &u), reference_greedy(p, 48, -1, 6));
  EXPECT_EQ(u.cached_prompt_tokens, 64);  // block 0 only: block 1 is gone
}

TEST(DiskCache, CrashLeftoversAreRemovedAtStart) {
  TempDir dir;
  std::mt19937 rng(16);
  warm(dir.path, "fake-model-a", random_tokens(rng, 100, 48));
  const fs::path model_dir = cache_files(dir.path).front().parent_path();
  // A temporary file of a writer that died (pid 999999999 does not exist).
  const fs::path tmp = model_dir / "0123456789abcdef.wkv.tmp.999999999.0";
  std::ofstream(tmp) << "half an entry";
  const fs::path unrelated = dir.path / "README";
  std::ofstream(unrelated) << "not ours";
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "fake-model-a"));
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_TRUE(fs::exists(unrelated));
}

TEST(DiskCache, DiskBudgetIsNeverExceeded) {
  TempDir dir;
  std::mt19937 rng(17);
  // The fake model's rows compress well; measure one entry and give room for about five.
  int64_t entry = 0;
  {
    TempDir probe;
    warm(probe.path, "fake-model-a", random_tokens(rng, 200, 48));
    for (const auto& f : cache_files(probe.path)) entry = std::max<int64_t>(entry, fs::file_size(f));
  }
  ASSERT_GT(entry, 0);
  const int64_t budget = 5 * entry + entry / 2;
  std::atomic<bool> done{false};
  std::atomic<int64_t> worst{0};
  std::thread watcher([&] {
    while (!done) {
      worst = std::max(worst.load(), folder_bytes(dir.path));
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  FakeModel model;
  auto o = disk_opts(dir.path, "fake-model-a");
  o.cache_disk_bytes = budget;
  std::vector<std::vector<int32_t>> prompts;
  {
    auto engine = make_engine(model, {kEog}, o);
    for (int i = 0; i < 6; ++i) {
      prompts.push_back(random_tokens(rng, 200, 48));
      run(*engine, prompts.back(), 3, nullptr);
      EXPECT_LE(engine->stats().cache_disk_bytes, budget);
    }
    // Writes are asynchronous: give the writer a moment to reach the budget.
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (engine->stats().cache_disk_evictions_total == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_GT(engine->stats().cache_disk_evictions_total, 0);
  }
  done = true;
  watcher.join();
  EXPECT_LE(worst.load(), budget);
  EXPECT_LE(folder_bytes(dir.path), budget);
  EXPECT_GT(folder_bytes(dir.path), 0);
  // After a restart the newest prompt is still there, from its first block.
  auto o2 = o;
  o2.cache_ram_bytes = 0;  // disk only
  FakeModel m2;
  auto engine = make_engine(m2, {kEog}, o2);
  Usage u;
  EXPECT_EQ(run(*engine, prompts.back(), 3, &u), reference_greedy(prompts.back(), 48, -1, 3));
  EXPECT_GE(u.cached_prompt_tokens, 64);
  EXPECT_EQ(engine->stats().cache_disk_hit_blocks_total, u.cached_prompt_tokens / 64);
  // A smaller budget at start trims the folder at once.
  engine.reset();
  auto o3 = o2;
  o3.cache_disk_bytes = entry + entry / 2;
  FakeModel m3;
  auto e3 = make_engine(m3, {kEog}, o3);
  EXPECT_LE(folder_bytes(dir.path), o3.cache_disk_bytes);
}

TEST(DiskCache, ConcurrentRequestsWithBothTiersMatchReferenceAndStayInBudget) {
  TempDir dir;
  std::mt19937 rng(20);
  int64_t entry = 0;
  {
    TempDir probe;
    warm(probe.path, "fake-model-a", random_tokens(rng, 200, 48));
    for (const auto& f : cache_files(probe.path)) entry = std::max<int64_t>(entry, fs::file_size(f));
  }
  const int64_t disk_budget = 12 * entry;
  const int64_t ram_budget = 10 * kBlockBytes;
  const std::vector<std::vector<int32_t>> prefixes = {random_tokens(rng, 260, 48),
                                                      random_tokens(rng, 140, 48)};
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 16; ++i) {
    auto r = greedy_request(concat(prefixes[i % 2], random_tokens(rng, static_cast<int>(rng() % 70), 48)),
                            4 + static_cast<int>(rng() % 30));
    r.stop_at_eog = false;
    reqs.push_back(r);
  }
  std::atomic<bool> done{false};
  std::atomic<int64_t> worst_disk{0};
  std::atomic<int64_t> worst_ram{0};
  Engine* current = nullptr;
  std::mutex current_mu;
  std::thread watcher([&] {
    while (!done) {
      worst_disk = std::max(worst_disk.load(), folder_bytes(dir.path));
      {
        std::lock_guard lk(current_mu);
        if (current) worst_ram = std::max(worst_ram.load(), current->stats().cache_ram_bytes);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  int64_t disk_hits = 0;
  for (int restart = 0; restart < 3; ++restart) {
    FakeModel model;
    model.delay_us = 20;
    auto o = disk_opts(dir.path, "fake-model-a");
    o.max_parallel = 4;
    o.kv_blocks = 36;
    o.cache_ram_bytes = ram_budget;
    o.cache_disk_bytes = disk_budget;
    o.max_queue = 0;
    auto engine = make_engine(model, {kEog}, o);
    {
      std::lock_guard lk(current_mu);
      current = engine.get();
    }
    std::vector<std::shared_ptr<Stream>> streams;
    for (const auto& r : reqs) streams.push_back(engine->submit(r));
    std::vector<std::vector<int32_t>> got(reqs.size());
    std::vector<std::thread> consumers;
    for (size_t i = 0; i < reqs.size(); ++i)
      consumers.emplace_back([&, i] { got[i] = collect(*streams[i]); });
    for (auto& t : consumers) t.join();
    for (size_t i = 0; i < reqs.size(); ++i)
      EXPECT_EQ(got[i], reference_greedy(reqs[i].prompt, 48, -1, reqs[i].max_tokens))
          << "restart " << restart << " request " << i << ": " << streams[i]->error();
    disk_hits += engine->stats().cache_disk_hit_blocks_total;
    EXPECT_EQ(engine->stats().cache_disk_errors_total, 0);
    {
      std::lock_guard lk(current_mu);
      current = nullptr;
    }
  }
  done = true;
  watcher.join();
  EXPECT_GT(disk_hits, 0);
  EXPECT_LE(worst_disk.load(), disk_budget);
  EXPECT_LE(worst_ram.load(), ram_budget);
}

TEST(DiskCache, NoIdentityMeansNoDiskTier) {
  TempDir dir;
  LogSink log;
  FakeModel model;
  auto engine = make_engine(model, {kEog}, disk_opts(dir.path, "", &log));
  std::mt19937 rng(18);
  run(*engine, random_tokens(rng, 200, 48), 3, nullptr);
  engine.reset();
  EXPECT_TRUE(cache_files(dir.path).empty());
  EXPECT_EQ(log.count("no model identity"), 1);
}

TEST(DiskCache, LoadRejectsAnotherPrefixWithTheSameName) {
  TempDir dir;
  std::vector<uint8_t> block(kBlockBytes), back(kBlockBytes);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 7);
  std::vector<int32_t> toks(64, 3), other(64, 4);
  const uint64_t key = 42;
  const uint64_t h = block_chain_hash(key, toks.data());
  {
    DiskCache d(dir.path, key, 0, kBlockBytes, 1 << 20, nullptr);
    d.write({h, key, 0, toks.data()}, block.data(), 7);
    d.flush();
    std::vector<int32_t> done;
    d.finished_writes(done);
    EXPECT_EQ(done, std::vector<int32_t>{7});
    EXPECT_TRUE(d.contains(h));
    EXPECT_EQ(d.load({h, key, 0, toks.data()}, back.data()), DiskCache::Load::kOk);
    EXPECT_EQ(back, block);
    EXPECT_EQ(d.load({h, key, 0, other.data()}, back.data()), DiskCache::Load::kMissing);
    EXPECT_EQ(d.load({h + 1, key, 0, toks.data()}, back.data()), DiskCache::Load::kMissing);
  }
  // Another block size (say, another KV type): the same folder name is never read.
  DiskCache d2(dir.path, key, 0, kBlockBytes * 2, 1 << 20, nullptr);
  EXPECT_FALSE(d2.contains(h));
}

// ---- The real model: tiny DeepSeek-V3 (MLA, MoE), f16 GGUF fixture. ----

TEST(DiskCache, RealModelGreedyOutputIsIdenticalWithRamAndDiskHits) {
  const std::string rel = "models/tiny-deepseek-v3/model-f16.gguf";
  WHALE_REQUIRE_FIXTURE(rel);
  const fs::path path = whale::testing::fixture(rel);
  ThreadPool pool(2);
  auto m = model::load_model(path, pool);
  const int64_t V = m->info().vocab_size;
  std::mt19937 rng(19);
  const auto shared = random_tokens(rng, 150, V);
  const auto a = concat(shared, random_tokens(rng, 10, V));
  const auto b = concat(shared, random_tokens(rng, 25, V));
  const int n_gen = 16;

  auto base = [&](bool cache) {
    EngineOptions o;
    o.max_parallel = 2;
    o.ctx_size = 512;
    o.prefill_chunk = 64;
    o.cache_ram_bytes = cache ? int64_t{64} << 20 : 0;
    o.disk_cache = false;
    return o;
  };
  // Without any cache.
  std::vector<int32_t> want_b;
  {
    auto e = make_engine(*m, std::vector<int32_t>{}, base(false));
    want_b = run(*e, b, n_gen, nullptr);
  }
  ASSERT_EQ(want_b.size(), static_cast<size_t>(n_gen));

  TempDir dir;
  const std::string id = model::model_identity(path);
  auto with_disk = [&] {
    auto o = base(true);
    o.disk_cache = true;
    o.cache_dir = dir.path;
    o.model_identity = id;
    return o;
  };
  {
    auto e = make_engine(*m, std::vector<int32_t>{}, with_disk());
    Usage u;
    run(*e, a, n_gen, &u);
    EXPECT_EQ(u.cached_prompt_tokens, 0);
    EXPECT_EQ(run(*e, b, n_gen, &u), want_b);  // RAM hit
    EXPECT_EQ(u.cached_prompt_tokens, 128);
    EXPECT_GE(e->stats().cache_ram_hit_blocks_total, 2);
  }
  {
    auto e = make_engine(*m, std::vector<int32_t>{}, with_disk());  // simulated restart
    Usage u;
    EXPECT_EQ(run(*e, b, n_gen, &u), want_b);  // disk hit
    EXPECT_EQ(u.cached_prompt_tokens, 128);
    EXPECT_GE(e->stats().cache_disk_hit_blocks_total, 2);
    EXPECT_EQ(e->stats().cache_disk_errors_total, 0);
  }
  {
    auto o = with_disk();
    o.model_identity = model::model_identity(whale::testing::fixture("models/tiny-deepseek-v3"));
    ASSERT_NE(o.model_identity, id);
    auto e = make_engine(*m, std::vector<int32_t>{}, o);
    Usage u;
    run(*e, b, 2, &u);
    EXPECT_EQ(u.cached_prompt_tokens, 0);  // the same weights in another file: not trusted
  }
}

TEST(DiskCache, ModelIdentityIsStableAndTellsFilesApart) {
  const std::string rel = "models/tiny-deepseek-v3/model-f16.gguf";
  WHALE_REQUIRE_FIXTURE(rel);
  const auto a = model::model_identity(whale::testing::fixture(rel));
  EXPECT_EQ(a, model::model_identity(whale::testing::fixture(rel)));
  EXPECT_EQ(a.rfind("gguf-", 0), 0u);
  const std::string other = "models/tiny-llama";
  if (fs::exists(whale::testing::fixture(other))) {
    for (const auto& e : fs::directory_iterator(whale::testing::fixture(other)))
      if (e.path().extension() == ".gguf") {
        EXPECT_NE(model::model_identity(e.path()), a);
      }
  }
  EXPECT_THROW(model::model_identity("/nonexistent/model.gguf"), Error);
}

}  // namespace
}  // namespace whale::engine
