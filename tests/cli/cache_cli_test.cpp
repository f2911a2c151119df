// End-to-end: `whale cache stats|clear|bench`. Cache folders are made with the disk tier itself;
// the expected counts follow from what was written, hit counts from spec api.md §5.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/run_whale.h"
#include "engine/disk_cache.h"

namespace {

namespace fs = std::filesystem;

whale::testing::RunResult run(const std::string& args) { return whale::testing::run_whale_cmdline(args); }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("whale-cache-cli-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Writes `n` chained entries for model key `key` with the disk tier.
void make_entries(const fs::path& dir, uint64_t key, int n) {
  constexpr size_t kBytes = 4096;
  std::vector<uint8_t> block(kBytes);
  whale::engine::DiskCache d(dir, key, 1, kBytes, int64_t{1} << 30, nullptr);
  uint64_t parent = key;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> toks(64, i + 1);
    for (size_t j = 0; j < block.size(); ++j) block[j] = static_cast<uint8_t>(j * (i + 3));
    const uint64_t h = whale::engine::block_chain_hash(parent, toks.data());
    d.write({h, parent, i, toks.data()}, block.data(), i);
    d.flush();
    parent = h;
  }
}

TEST(CacheCli, StatsCountsEntriesPerModelAndVerifyFindsDamage) {
  TempDir dir;
  make_entries(dir.path, 0x1111, 3);
  make_entries(dir.path, 0x2222, 2);
  auto r = run("cache stats --cache-dir '" + dir.path.string() + "' --json --verify");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["entries"], 5);
  ASSERT_EQ(j["models"].size(), 2u);
  int64_t bytes = 0;
  for (const auto& m : j["models"]) {
    EXPECT_EQ(m["bad_entries"], 0);
    bytes += m["bytes"].get<int64_t>();
    EXPECT_EQ(m["entries"], m["key"] == "0000000000001111" ? 3 : 2);
  }
  EXPECT_EQ(j["bytes"], bytes);

  // One flipped payload byte is found by --verify.
  fs::path victim;
  for (const auto& e : fs::directory_iterator(dir.path / "0000000000002222")) victim = e.path();
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(whale::engine::DiskCache::kHeaderBytes + 3));
    f.put('\x7f');
  }
  j = nlohmann::json::parse(run("cache stats --cache-dir '" + dir.path.string() + "' --json --verify").out);
  int64_t bad = 0;
  for (const auto& m : j["models"]) bad += m["bad_entries"].get<int64_t>();
  EXPECT_EQ(bad, 1);

  // Text output names the folder.
  r = run("cache stats --cache-dir '" + dir.path.string() + "'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("entries: 5 (320 tokens)"), std::string::npos) << r.out;
}

TEST(CacheCli, ClearDeletesEntriesAndNothingElse) {
  TempDir dir;
  make_entries(dir.path, 0x3333, 4);
  std::ofstream(dir.path / "notes.txt") << "keep me";
  auto r = run("cache clear --cache-dir '" + dir.path.string() + "'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("deleted 4 files"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir.path / "notes.txt"));
  EXPECT_FALSE(fs::exists(dir.path / "0000000000003333"));
  auto j = nlohmann::json::parse(run("cache stats --cache-dir '" + dir.path.string() + "' --json").out);
  EXPECT_EQ(j["entries"], 0);
}

TEST(CacheCli, BenchReportsHitsFromRamAndFromDisk) {
  const std::string rel = "models/tiny-deepseek-v3/model-f16.gguf";
  WHALE_REQUIRE_FIXTURE(rel);
  TempDir dir;
  auto r = run("cache bench -m '" + whale::testing::fixture(rel).string() + "' -p 200 -t 1 --json --cache-dir '" +
               dir.path.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  // 200 tokens: at most 199 can come from the cache, reported in whole blocks of 64.
  EXPECT_EQ(j["cached_tokens_ram"], 192);
  EXPECT_EQ(j["cached_tokens_disk"], 192);
  EXPECT_GT(j["ttft_cold_ms"].get<double>(), 0);
  EXPECT_GT(j["disk_bytes"].get<int64_t>(), 0);
  // The bench cleans up after itself.
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(CacheCli, MissingFolderIsEmpty) {
  auto r = run("cache stats --cache-dir /nonexistent/whale-cache --json");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["entries"], 0);
}

}  // namespace
