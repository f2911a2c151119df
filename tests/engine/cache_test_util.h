// Helpers for prefix-cache tests: greedy requests, random prompts, engine options with the cache,
// temporary cache folders and a log sink.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace whale::engine::testing {

inline GenerateRequest greedy_request(std::vector<int32_t> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  return r;
}

// `n` ids in [1, vocab) (0 is the fake model's end-of-generation id).
inline std::vector<int32_t> random_tokens(std::mt19937& rng, int n, int64_t vocab) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = 1 + static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab - 1));
  return t;
}

inline std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Log lines collected from the engine (thread-safe).
struct LogSink {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> fn() {
    return [this](const std::string& l) {
      std::lock_guard lk(mu);
      lines.push_back(l);
    };
  }
  int count(const std::string& needle) {
    std::lock_guard lk(mu);
    int n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
};

// A fresh folder under the system temp dir, removed with the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("whale-cache-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Sum of the sizes of every file under `dir` (cache entries and temporary files).
inline int64_t folder_bytes(const std::filesystem::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code e2;
    if (it->is_regular_file(e2)) {
      const auto sz = it->file_size(e2);
      if (!e2) n += static_cast<int64_t>(sz);
    }
  }
  return n;
}

// Cache entry files (*.wkv) under `dir`.
inline std::vector<std::filesystem::path> cache_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".wkv") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace whale::engine::testing
