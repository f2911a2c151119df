// Quantise / dequantise throughput per format on a 2048x2048 Gaussian matrix (one row per
// iteration batch). Reproduce: build/bench/quants_bench --benchmark_filter=Q4_K
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "tensor/quants.h"

namespace whale {
namespace {

constexpr int kN = 2048;

const std::vector<float>& matrix() {
  static const std::vector<float> x = [] {
    std::vector<float> v(static_cast<size_t>(kN) * kN);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& e : v) e = d(rng);
    return v;
  }();
  return x;
}

void BM_Quantize(benchmark::State& state, GgmlType t) {
  const auto& x = matrix();
  const size_t rb = row_bytes(t, kN);
  std::vector<uint8_t> q(rb * kN);
  for (auto _ : state) {
    for (int r = 0; r < kN; ++r)
      quantize_row(t, x.data() + static_cast<size_t>(r) * kN, q.data() + r * rb, kN);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetItemsProcessed(state.iterations() * kN * kN);
}

void BM_Dequantize(benchmark::State& state, GgmlType t) {
  const auto& x = matrix();
  const size_t rb = row_bytes(t, kN);
  std::vector<uint8_t> q(rb * kN);
  for (int r = 0; r < kN; ++r)
    quantize_row(t, x.data() + static_cast<size_t>(r) * kN, q.data() + r * rb, kN);
  std::vector<float> y(static_cast<size_t>(kN) * kN);
  for (auto _ : state) {
    for (int r = 0; r < kN; ++r)
      dequantize_row(t, q.data() + r * rb, y.data() + static_cast<size_t>(r) * kN, kN);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kN * kN);
}

#define WHALE_QUANT_BENCH(T)                                                     \
  BENCHMARK_CAPTURE(BM_Quantize, T, GgmlType::T)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(BM_Dequantize, T, GgmlType::T)->Unit(benchmark::kMillisecond)

WHALE_QUANT_BENCH(Q4_0);
WHALE_QUANT_BENCH(Q8_0);
WHALE_QUANT_BENCH(Q2_K);
WHALE_QUANT_BENCH(Q3_K);
WHALE_QUANT_BENCH(Q4_K);
WHALE_QUANT_BENCH(Q5_K);
WHALE_QUANT_BENCH(Q6_K);
WHALE_QUANT_BENCH(IQ4_NL);
WHALE_QUANT_BENCH(IQ4_XS);
WHALE_QUANT_BENCH(BF16);

}  // namespace
}  // namespace whale
