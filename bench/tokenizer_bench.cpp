// Tokenizer throughput on a mixed corpus (prose, code, numbers, CJK, emoji, special tokens)
// built from the fixture encode.jsonl texts. Reports bytes/s (target: >= 5 MB/s on one core).
// Skips when the fixtures are absent ($WHALE_FIXTURES or ../shared/fixtures beside the source).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace {

std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("WHALE_FIXTURES"); env && *env) return env;
  // This file lives in <source>/bench/; the fixtures sit beside the source tree.
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

// About 1 MB: the corpus texts joined by newlines, repeated.
std::string corpus(const std::string& vocab) {
  std::ifstream in(fixtures_dir() / "tokenizer" / vocab / "encode.jsonl");
  std::string line, one;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    one += nlohmann::json::parse(line).at("text").get<std::string>();
    one += '\n';
  }
  if (one.empty()) return one;
  std::string all;
  while (all.size() < (1u << 20)) all += one;
  return all;
}

const whale::tokenizer::Tokenizer* load(const std::string& vocab) {
  const auto p = fixtures_dir() / "tokenizer" / vocab;
  if (!std::filesystem::exists(p / "tokenizer.json")) return nullptr;
  static std::map<std::string, std::unique_ptr<whale::tokenizer::Tokenizer>> cache;
  auto& slot = cache[vocab];
  if (!slot) slot = whale::tokenizer::Tokenizer::from_hf(p);
  return slot.get();
}

void BM_Encode(benchmark::State& state, const std::string& vocab) {
  const auto* tok = load(vocab);
  if (!tok) {
    state.SkipWithError("fixtures not found (set WHALE_FIXTURES)");
    return;
  }
  const std::string text = corpus(vocab);
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text, false, true);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_Decode(benchmark::State& state, const std::string& vocab) {
  const auto* tok = load(vocab);
  if (!tok) {
    state.SkipWithError("fixtures not found (set WHALE_FIXTURES)");
    return;
  }
  const std::string text = corpus(vocab);
  const auto ids = tok->encode(text, false, true);
  for (auto _ : state) {
    auto s = tok->decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK_CAPTURE(BM_Encode, deepseek_v3, std::string("deepseek-v3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, deepseek_v3, std::string("deepseek-v3"))->Unit(benchmark::kMillisecond);

}  // namespace
