// Kernel microbenchmarks.
//   MatVec/<type>/<threads>: decode-shaped y = W·x (one token) on a 2048x2048 weight. Copies of
//     W rotate through a buffer of WHALE_BENCH_ROTATE_MB (default 1024 MB, above the L3 size of
//     the usual hosts), so each call reads its weights from memory; GB/s = weight bytes / time.
//   MatVecHot/<type>: the same on one copy (cache-resident): the compute ceiling.
//   MatMat/<type>/<tokens>: prefill-shaped products (64 and 512 tokens); GFLOP/s = 2·M·K·n / time.
//   MatMatPrompt/<type>/<tokens>: the same tokens marked as prompt tokens (matmul.h): the bf16
//     tile products where the CPU has AMX, else identical to MatMat.
//   Ops: rmsnorm, softmax, silu_mul on 7168 floats.
//   MlaPaged/<kv>/<queries>/<ctx>/<threads>: MLA attention of DeepSeek-V2-Lite's shape (16 heads,
//     kv_lora 512, rope 64) over a paged cache of ctx rows: 1 query = one decode step of one
//     layer; 512 queries = a prefill chunk (causal). GFLOP/s counts 2·(576+512) per head·key.
//   MlaDecode/BF16/<queries>/<ctx>/<threads>: decode queries on tile products over a bf16
//     pair-layout cache (mla_attention_decode: AMX where the CPU has it, else skipped).
//   MlaPrompt/<kv>/<queries>/<ctx>/<threads>: the same prefill chunk as prompt queries
//     (mla_attention_prompt: AMX tile products where the CPU has them, else skipped).
// Run: build/bench/kernels_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/mla_attention.h"
#include "kernels/ops.h"
#include "tensor/quants.h"

namespace {

using whale::GgmlType;

constexpr int64_t kK = 2048, kM = 2048;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

size_t rotate_bytes() {
  const char* e = std::getenv("WHALE_BENCH_ROTATE_MB");
  const long mb = e ? std::atol(e) : 1024;
  return static_cast<size_t>(mb > 0 ? mb : 1024) << 20;
}

// `copies` back-to-back copies of one quantised kM x kK matrix.
struct WeightSet {
  GgmlType type;
  size_t matrix_bytes = 0;
  int copies = 1;
  std::unique_ptr<uint8_t[]> data;
  WeightSet(GgmlType t, size_t budget) : type(t) {
    const size_t row = whale::row_bytes(t, kK);
    matrix_bytes = row * kM;
    copies = static_cast<int>(std::max<size_t>(1, budget / matrix_bytes));
    data.reset(new uint8_t[matrix_bytes * copies]);
    const auto src = random_floats(static_cast<size_t>(kK * kM), 42);
    for (int64_t r = 0; r < kM; ++r)
      whale::quantize_row(t, src.data() + r * kK, data.get() + r * row, kK);
    for (int c = 1; c < copies; ++c)
      std::memcpy(data.get() + c * matrix_bytes, data.get(), matrix_bytes);
  }
  whale::TensorView view(int c) const {
    whale::TensorView v;
    v.name = "bench";
    v.type = type;
    v.n_dims = 2;
    v.ne = {kK, kM, 1, 1};
    v.data = data.get() + static_cast<size_t>(c % copies) * matrix_bytes;
    v.nbytes = matrix_bytes;
    return v;
  }
};

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                           GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                           GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                           GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

void MatVec(benchmark::State& state, GgmlType t, bool rotate) {
  const int threads = static_cast<int>(state.range(0));
  static std::unique_ptr<WeightSet> cache;  // one type's buffer at a time (it is big)
  if (!cache || cache->type != t || (cache->copies > 1) != rotate)
    cache = std::make_unique<WeightSet>(t, rotate ? rotate_bytes() : 0);
  whale::ThreadPool pool(threads);
  const auto x = random_floats(kK, 1);
  std::vector<float> y(kM);
  int c = 0;
  for (auto _ : state) {
    whale::kernels::matmul(cache->view(c++), x.data(), 1, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(cache->matrix_bytes));
}

void MatMat(benchmark::State& state, GgmlType t, bool prompt) {
  const int64_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const WeightSet w(t, 0);
  whale::ThreadPool pool(threads);
  const auto x = random_floats(static_cast<size_t>(kK * n), 2);
  std::vector<float> y(static_cast<size_t>(kM * n));
  for (auto _ : state) {
    whale::kernels::matmul(w.view(0), x.data(), n, y.data(), pool, prompt ? 0 : whale::kernels::kNoPromptTokens);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * kM * kK * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void Ops(benchmark::State& state) {
  const int64_t n = 7168;
  auto x = random_floats(n, 3), w = random_floats(n, 4), y = x;
  for (auto _ : state) {
    whale::kernels::rmsnorm(x.data(), w.data(), y.data(), n, 1e-6f);
    whale::kernels::silu_mul(x.data(), w.data(), y.data(), n);
    whale::kernels::softmax(y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 4 * 7);
}

// DeepSeek-V2-Lite's attention shape over a paged cache of ctx rows of type kv, with nq queries
// at the end of it (query i sees ctx - nq + 1 + i keys).
struct MlaCase {
  static constexpr int64_t H = 16, R = 512, P = 64, W = R + P, block = 64;
  std::vector<uint8_t> cache;
  std::vector<const uint8_t*> blocks;
  std::vector<float> ql, qr, out;
  std::vector<int32_t> n_keys;
  double pairs = 0;  // (query, key) pairs attended
  whale::kernels::PagedLatentCache c;
  whale::kernels::MlaQueries q;
  MlaCase(GgmlType kv, int64_t nq, int64_t ctx) {
    const size_t row = whale::row_bytes(kv, W);
    const int64_t n_blocks = (ctx + block - 1) / block;
    cache.resize(row * static_cast<size_t>(n_blocks * block));
    const auto vals = random_floats(static_cast<size_t>(W), 5);
    for (int64_t t = 0; t < n_blocks * block; ++t) whale::quantize_row(kv, vals.data(), cache.data() + row * t, W);
    for (int64_t b = 0; b < n_blocks; ++b) blocks.push_back(cache.data() + row * static_cast<size_t>(b * block));
    ql = random_floats(static_cast<size_t>(nq * H * R), 6);
    qr = random_floats(static_cast<size_t>(nq * H * P), 7);
    out.resize(static_cast<size_t>(nq * H * R));
    n_keys.resize(static_cast<size_t>(nq));
    for (int64_t i = 0; i < nq; ++i) pairs += static_cast<double>(n_keys[i] = static_cast<int32_t>(ctx - nq + 1 + i));
    c = {kv, blocks.data(), block, row, R, P};
    q = {nq, H, ql.data(), qr.data(), static_cast<size_t>(P), n_keys.data(), out.data()};
  }
  double flops() const { return 2.0 * (W + R) * H * pairs; }
};

void MlaPaged(benchmark::State& state, GgmlType kv) {
  MlaCase m(kv, state.range(0), state.range(1));
  whale::ThreadPool pool(static_cast<int>(state.range(2)));
  for (auto _ : state) {
    whale::kernels::mla_attention_paged(m.c, m.q, 0.07f, pool);
    benchmark::DoNotOptimize(m.out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(m.flops() * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void MlaPrompt(benchmark::State& state, GgmlType kv) {
  const int64_t nq = state.range(0), ctx = state.range(1);
  MlaCase m(kv, nq, ctx);
  whale::ThreadPool pool(static_cast<int>(state.range(2)));
  for (auto _ : state) {
    if (!whale::kernels::mla_attention_prompt(m.c, m.q, ctx - nq, 0.07f, pool)) {
      state.SkipWithError("no tile products on this CPU");
      break;
    }
    benchmark::DoNotOptimize(m.out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(m.flops() * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void MlaDecode(benchmark::State& state, GgmlType kv) {
  MlaCase m(kv, state.range(0), state.range(1));
  whale::ThreadPool pool(static_cast<int>(state.range(2)));
  for (auto _ : state) {
    if (!whale::kernels::mla_attention_decode(m.c, m.q, 0.07f, pool)) {
      state.SkipWithError("no tile products on this CPU");
      break;
    }
    benchmark::DoNotOptimize(m.out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(m.flops() * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

int register_all() {
  for (GgmlType kv : {GgmlType::F16, GgmlType::Q8_0})
    benchmark::RegisterBenchmark((std::string("MlaPaged/") + std::string(whale::type_name(kv))).c_str(), MlaPaged, kv)
        ->Args({1, 128, 2})->Args({1, 4096, 2})->Args({512, 512, 2})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (GgmlType kv : {GgmlType::BF16})  // the pool's pair layout; decode tiles take no other
    benchmark::RegisterBenchmark((std::string("MlaDecode/") + std::string(whale::type_name(kv))).c_str(), MlaDecode, kv)
        ->Args({1, 128, 2})->Args({1, 4096, 2})->Args({16, 1024, 2})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (GgmlType kv : {GgmlType::F16, GgmlType::Q8_0})
    benchmark::RegisterBenchmark((std::string("MlaPrompt/") + std::string(whale::type_name(kv))).c_str(), MlaPrompt, kv)
        ->Args({512, 512, 2})->Args({512, 2048, 2})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (GgmlType t : kTypes) {
    const std::string name(whale::type_name(t));
    benchmark::RegisterBenchmark(("MatVec/" + name).c_str(), MatVec, t, true)
        ->Arg(1)->Arg(2)->UseRealTime();
    benchmark::RegisterBenchmark(("MatVecHot/" + name).c_str(), MatVec, t, false)
        ->Arg(2)->UseRealTime();
    benchmark::RegisterBenchmark(("MatMat/" + name).c_str(), MatMat, t, false)
        ->Args({64, 2})->Args({512, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("MatMatPrompt/" + name).c_str(), MatMat, t, true)
        ->Args({64, 2})->Args({512, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("Ops/rmsnorm+silu_mul+softmax/7168", Ops);
  return 0;
}
const int registered = register_all();

}  // namespace
