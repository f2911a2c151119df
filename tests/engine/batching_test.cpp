// Continuous batching against a fake model whose outputs depend on every KV row of a sequence:
// batched, chunked and preempted runs must produce exactly what greedy decoding computed
// directly from the model function gives.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/fake_model.h"
#include "engine_test_util.h"

namespace whale::engine {
namespace {

using testing::FakeModel;
using testing::reference_greedy;

constexpr int32_t kEog = 0;

EngineOptions small_options() {
  EngineOptions o;
  o.max_parallel = 16;
  o.ctx_size = 4096;
  o.kv_type = model::KvType::F32;
  o.prefill_chunk = 32;
  o.step_tokens = 4096;  // every sequence advances in every step unless a test limits it
  return o;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int len, int64_t vocab) {
  std::vector<int32_t> p(len);
  for (auto& t : p) t = 1 + static_cast<int32_t>(rng() % (vocab - 1));  // never the EOG id
  return p;
}

TEST(Batching, SixteenConcurrentGreedyEqualSequential) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(7);
  std::vector<GenerateRequest> reqs;
  while (reqs.size() < 16) {
    GenerateRequest r;
    r.prompt = random_prompt(rng, 1 + static_cast<int>(rng() % 150), V);
    r.sampling.temperature = 0;
    r.max_tokens = 60;
    // A prompt whose first answer token is the EOG id could finish in the first step.
    if (!reference_greedy(r.prompt, V, kEog, 1).empty()) reqs.push_back(r);
  }
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, small_options());
  std::vector<std::shared_ptr<Stream>> streams;
  // Hold the scheduler in its first step until every request waits, so the next step admits
  // them all at once (none can finish in the first step: every answer has a token).
  model.close_gate();
  for (const auto& r : reqs) streams.push_back(engine->submit(r));
  while (!model.in_forward()) std::this_thread::yield();
  model.open_gate();
  int ended_by_eog = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto got = collect(*streams[i]);
    auto want = reference_greedy(reqs[i].prompt, V, kEog, reqs[i].max_tokens);
    EXPECT_EQ(got, want) << "request " << i;
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(streams[i]->finish_reason(),
              want.size() < 60u ? FinishReason::kStop : FinishReason::kLength);
    ended_by_eog += want.size() < 60u;
    const Usage u = streams[i]->usage();
    EXPECT_EQ(u.prompt_tokens, static_cast<int>(reqs[i].prompt.size()));
    EXPECT_EQ(u.completion_tokens, static_cast<int>(want.size()));
  }
  EXPECT_GT(ended_by_eog, 0) << "the test should cover both finish reasons";
  // The requests really ran together: some forward had 16 sequences.
  size_t widest = 0;
  for (const auto& c : model.calls()) widest = std::max(widest, c.size());
  EXPECT_EQ(widest, 16u);
  wait_idle(*engine);
  const EngineStats s = engine->stats();
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.requests_active, 0);
  EXPECT_EQ(s.requests_total, 16);
}

TEST(Batching, SameOutputsOneAtATime) {
  // The same 16 requests through an engine with one slot.
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(11);
  auto opts = small_options();
  opts.max_parallel = 1;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts);
  for (int i = 0; i < 16; ++i) {
    GenerateRequest r;
    r.prompt = random_prompt(rng, 1 + static_cast<int>(rng() % 100), V);
    r.sampling.temperature = 0;
    r.max_tokens = 40;
    auto st = engine->submit(r);
    EXPECT_EQ(collect(*st), reference_greedy(r.prompt, V, kEog, 40));
  }
  for (const auto& c : model.calls()) EXPECT_EQ(c.size(), 1u);
}

TEST(Batching, ChunkedPrefillEqualsOneShot) {
  std::mt19937 rng(3);
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  GenerateRequest r;
  r.prompt = random_prompt(rng, 300, V);
  r.sampling.temperature = 0;
  r.max_tokens = 30;
  const auto want = reference_greedy(r.prompt, V, kEog, 30);
  for (int chunk : {1, 7, 64, 1000}) {
    FakeModel m;
    auto opts = small_options();
    opts.prefill_chunk = chunk;
    auto engine = make_engine(m, std::vector<int32_t>{kEog}, opts);
    auto st = engine->submit(r);
    EXPECT_EQ(collect(*st), want) << "chunk " << chunk;
    int biggest = 0;
    for (const auto& c : m.calls())
      for (int n : c) biggest = std::max(biggest, n);
    EXPECT_EQ(biggest, std::min(chunk, 300)) << "chunk " << chunk;
  }
}

TEST(Batching, LongPromptInterleavesWithDecoding) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(5);
  auto opts = small_options();
  opts.prefill_chunk = 64;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts);
  GenerateRequest a;
  a.prompt = random_prompt(rng, 5, V);
  a.sampling.temperature = 0;
  a.max_tokens = 40;
  a.stop_at_eog = false;
  GenerateRequest b;
  b.prompt = random_prompt(rng, 1280, V);  // 20 chunks
  b.sampling.temperature = 0;
  b.max_tokens = 5;
  b.stop_at_eog = false;
  model.close_gate();  // both get admitted in the same step
  auto sa = engine->submit(a);
  auto sb = engine->submit(b);
  model.open_gate();
  collect(*sa);
  collect(*sb);
  // Steps that carried a 64-token chunk of B also carried one decode token of A.
  int mixed = 0;
  for (const auto& c : model.calls())
    if (c.size() == 2 && c[1] == 64 && c[0] == 1) ++mixed;
  EXPECT_GE(mixed, 18) << "A must keep decoding while B's prompt is processed";
}

TEST(Batching, StepBudgetServesDecodesFirstThenPromptsInArrivalOrder) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(6);
  auto opts = small_options();
  opts.max_parallel = 4;
  opts.prefill_chunk = 512;
  opts.step_tokens = 64;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts);
  std::vector<GenerateRequest> reqs(3);
  for (auto& r : reqs) {
    r.prompt = random_prompt(rng, 100, V);
    r.sampling.temperature = 0;
    r.max_tokens = 20;
    r.stop_at_eog = false;
  }
  model.close_gate();  // all three are admitted before the first step
  std::vector<std::shared_ptr<Stream>> streams;
  for (const auto& r : reqs) streams.push_back(engine->submit(r));
  model.open_gate();
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(collect(*streams[i]), reference_greedy(reqs[i].prompt, V, /*eog=*/-1, 20)) << "request " << i;
  const auto calls = model.calls();
  ASSERT_GE(calls.size(), 4u);
  // The oldest prompt first, whole chunks of the budget; the next prompt takes what is left.
  EXPECT_EQ(calls[0], (std::vector<int>{64}));
  EXPECT_EQ(calls[1], (std::vector<int>{36, 28}));
  // From then on the first request decodes one token per step, and the budget still holds.
  EXPECT_EQ(calls[2], (std::vector<int>{1, 63}));
  for (const auto& c : calls) {
    int total = 0;
    for (int n : c) total += n;
    EXPECT_LE(total, 64);
  }
}

TEST(Batching, PreemptionUnderTinyPoolCompletesEverything) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(9);
  auto opts = small_options();
  opts.max_parallel = 4;
  opts.kv_blocks = 6;  // 384 tokens for 4 sequences that each grow to ~170
  opts.prefill_chunk = 16;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts);
  std::vector<GenerateRequest> reqs;
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 10; ++i) {
    GenerateRequest r;
    r.prompt = random_prompt(rng, 40 + static_cast<int>(rng() % 40), V);
    r.sampling.temperature = 0;
    r.max_tokens = 100;
    r.stop_at_eog = false;
    reqs.push_back(r);
    streams.push_back(engine->submit(r));
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(collect(*streams[i]), reference_greedy(reqs[i].prompt, V, -1, 100)) << i;
    EXPECT_EQ(streams[i]->finish_reason(), FinishReason::kLength);
  }
  wait_idle(*engine);
  const EngineStats s = engine->stats();
  EXPECT_GT(s.preemptions_total, 0);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.kv_blocks_total, 6);
}

TEST(Batching, SeededSamplingIsTheSameBatchedOrAlone) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  std::mt19937 rng(13);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 8; ++i) {
    GenerateRequest r;
    r.prompt = random_prompt(rng, 10 + i, V);
    r.sampling.temperature = 1.0f;
    r.sampling.top_p = 0.9f;
    r.sampling.seed = 1000 + i;
    r.max_tokens = 30;
    reqs.push_back(r);
  }
  auto run = [&](int parallel) {
    auto opts = small_options();
    opts.max_parallel = parallel;
    auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts);
    std::vector<std::shared_ptr<Stream>> ss;
    for (const auto& r : reqs) ss.push_back(engine->submit(r));
    std::vector<std::vector<int32_t>> out;
    for (auto& s : ss) out.push_back(collect(*s));
    return out;
  };
  EXPECT_EQ(run(8), run(1));
}

}  // namespace
}  // namespace whale::engine
