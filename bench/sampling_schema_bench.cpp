// Cost of a token mask under a strict-schema constraint on a cache miss (a state not seen
// before: every new number prefix or pattern state is one), against JSON mode, over a
// 128k-token vocabulary of random BPE-like pieces. The mask cache makes repeated states free.
#include <benchmark/benchmark.h>

#include <random>

#include "sampling/json_constraint.h"
#include "sampling/schema_machine.h"

namespace {

using namespace whale::sampling;

std::vector<std::string> vocab_bytes() {
  std::mt19937 rng(1);
  std::vector<std::string> v;
  for (int b = 0; b < 256; ++b) v.push_back(std::string(1, static_cast<char>(b)));
  const std::string chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 _-.,:;\"{}[]";
  while (v.size() < 128000) {
    std::string t = rng() % 3 == 0 ? " " : "";
    const int len = 2 + static_cast<int>(rng() % 7);
    for (int i = 0; i < len; ++i) t.push_back(chars[rng() % (rng() % 4 == 0 ? chars.size() : 36)]);
    v.push_back(t);
  }
  return v;
}

const char* const kSchema = R"({"type":"object","properties":{
  "city":{"type":"string","pattern":"^[A-Z][a-z]+( [A-Z][a-z]+)*$"},
  "days":{"type":"number","minimum":0.5,"maximum":1000},
  "note":{"type":"string"}},"required":["city","days","note"],"additionalProperties":false})";

// Each iteration (up to the 800 distinct prefixes) asks for a state the cache has not seen:
// schema number states differ per digit string; JSON-mode number states (keyed by length only)
// and free-string states are cache hits, for comparison.
void mask_miss(benchmark::State& state, const std::string& prefix_base, bool schema) {
  auto vocab = std::make_shared<JsonVocab>(vocab_bytes(), std::vector<int32_t>{});
  const auto cs = compile_schema(nlohmann::ordered_json::parse(kSchema));
  std::vector<float> logits(vocab->vocab_size());
  int64_t i = 0;
  for (auto _ : state) {
    // A new digit string each time: a new number state (schema) / new cache key.
    std::string prefix = prefix_base + std::to_string(100 + (i++ % 800));
    JsonConstraint c = schema ? JsonConstraint(vocab, std::make_unique<SchemaMachine>(cs))
                              : JsonConstraint(vocab);
    for (char ch : prefix) {
      for (int32_t id = 0; id < 256; ++id)
        if (vocab->bytes(id) == std::string(1, ch)) {
          c.accept(id);
          break;
        }
    }
    c.mask(logits);
    benchmark::DoNotOptimize(logits.data());
  }
}

void BM_SchemaMaskNumber(benchmark::State& s) { mask_miss(s, "{\"city\":\"Paris\",\"days\":", true); }
void BM_JsonMaskNumber(benchmark::State& s) { mask_miss(s, "{\"city\":\"Paris\",\"days\":", false); }
void BM_SchemaMaskFreeString(benchmark::State& s) {
  mask_miss(s, "{\"city\":\"Paris\",\"days\":5,\"note\":\"x", true);
}
BENCHMARK(BM_SchemaMaskNumber)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonMaskNumber)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SchemaMaskFreeString)->Unit(benchmark::kMillisecond);

}  // namespace
