// Cancellation, queue limits, shutdown, stop conditions and errors.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/fake_model.h"
#include "engine_test_util.h"
#include "sampling/constraint.h"
#include "util/error.h"

namespace whale::engine {
namespace {

using testing::FakeModel;
using testing::reference_greedy;
using namespace std::chrono_literals;

constexpr int32_t kEog = 0;

EngineOptions opts(int parallel) {
  EngineOptions o;
  o.max_parallel = parallel;
  o.ctx_size = 2048;
  o.kv_type = model::KvType::F32;
  o.prefill_chunk = 32;
  return o;
}

GenerateRequest greedy(std::vector<int32_t> prompt, int max_tokens, bool stop_at_eog = true) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.stop_at_eog = stop_at_eog;
  return r;
}

void wait_until(const std::function<bool()>& cond) {
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (!cond() && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(200us);
  ASSERT_TRUE(cond()) << "condition not reached in 10 s";
}

TEST(Lifecycle, HundredRandomCancellationsLeakNothing) {
  FakeModel model;
  model.delay_us = 100;
  const int64_t V = model.info().vocab_size;
  auto o = opts(8);
  o.kv_blocks = 40;
  o.max_queue = 0;  // unbounded
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, o);
  std::mt19937 rng(21);
  std::vector<GenerateRequest> reqs;
  std::vector<std::shared_ptr<Stream>> streams;
  std::vector<bool> cancelled;
  std::vector<std::thread> consumers;
  for (int i = 0; i < 100; ++i) {
    std::vector<int32_t> p(1 + rng() % 120);
    for (auto& t : p) t = 1 + static_cast<int32_t>(rng() % (V - 1));
    reqs.push_back(greedy(p, 20 + static_cast<int>(rng() % 60), false));
    streams.push_back(engine->submit(reqs.back()));
    cancelled.push_back(rng() % 2 == 0);
  }
  std::vector<std::vector<int32_t>> got(100);
  for (int i = 0; i < 100; ++i) {
    consumers.emplace_back([&, i, wait_us = static_cast<int>(rng() % 20000)] {
      if (cancelled[i]) {
        std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
        streams[i]->cancel();
      }
      got[i] = collect(*streams[i]);
    });
  }
  for (auto& t : consumers) t.join();
  int n_cancelled = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(streams[i]->finished());
    const auto want = reference_greedy(reqs[i].prompt, V, -1, reqs[i].max_tokens);
    if (streams[i]->finish_reason() == FinishReason::kCancelled) {
      EXPECT_TRUE(cancelled[i]);
      ++n_cancelled;
      // What came before the cancel is a prefix of the right answer.
      ASSERT_LE(got[i].size(), want.size());
      EXPECT_TRUE(std::equal(got[i].begin(), got[i].end(), want.begin())) << i;
    } else {
      EXPECT_EQ(streams[i]->finish_reason(), FinishReason::kLength) << i;
      EXPECT_EQ(got[i], want) << i;
    }
  }
  EXPECT_GT(n_cancelled, 10);
  wait_idle(*engine);
  const EngineStats s = engine->stats();
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.requests_active, 0);
  EXPECT_EQ(s.requests_queued, 0);
  EXPECT_EQ(s.requests_total, 100);
}

TEST(Lifecycle, CancelStopsWithinOneStep) {
  FakeModel model;
  model.delay_us = 2000;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  auto st = engine->submit(greedy({1, 2, 3}, 100000, false));
  std::vector<TokenEvent> ev;
  while (ev.size() < 3) ASSERT_TRUE(st->next(ev, 1s));
  const int64_t steps_at_cancel = engine->stats().steps_total;
  st->cancel();
  collect(*st);
  EXPECT_EQ(st->finish_reason(), FinishReason::kCancelled);
  wait_idle(*engine);
  // The step in flight when cancel() came may finish; no further step runs for it.
  EXPECT_LE(engine->stats().steps_total - steps_at_cancel, 2);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(Lifecycle, FullQueueRefuses) {
  FakeModel model;
  auto o = opts(1);
  o.max_queue = 2;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, o);
  model.close_gate();
  auto running = engine->submit(greedy({1, 2}, 5, false));
  wait_until([&] { return model.in_forward(); });
  auto q1 = engine->submit(greedy({3}, 5, false));
  auto q2 = engine->submit(greedy({4}, 5, false));
  EXPECT_EQ(engine->stats().requests_queued, 2);
  EXPECT_THROW(engine->submit(greedy({5}, 5, false)), QueueFull);
  model.open_gate();
  for (auto* s : {&running, &q1, &q2}) {
    collect(**s);
    EXPECT_EQ((*s)->finish_reason(), FinishReason::kLength);
  }
  // Room again once the queue drained.
  auto later = engine->submit(greedy({6}, 2, false));
  EXPECT_EQ(collect(*later).size(), 2u);
}

TEST(Lifecycle, CancelWhileQueued) {
  FakeModel model;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(1));
  model.close_gate();
  auto running = engine->submit(greedy({1, 2}, 3, false));
  wait_until([&] { return model.in_forward(); });
  auto queued = engine->submit(greedy({3}, 3, false));
  queued->cancel();
  queued->cancel();  // idempotent
  model.open_gate();
  EXPECT_TRUE(collect(*queued).empty());
  EXPECT_EQ(queued->finish_reason(), FinishReason::kCancelled);
  EXPECT_EQ(collect(*running).size(), 3u);
  wait_idle(*engine);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(Lifecycle, ShutdownCancelsAtTheDeadline) {
  FakeModel model;
  model.delay_us = 1000;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  std::vector<std::shared_ptr<Stream>> ss;
  for (int i = 0; i < 4; ++i) ss.push_back(engine->submit(greedy({1, 2, 3}, 1000000, false)));
  const auto t0 = std::chrono::steady_clock::now();
  engine->shutdown(50ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 2s);
  for (auto& s : ss) {
    EXPECT_TRUE(s->finished());
    EXPECT_EQ(s->finish_reason(), FinishReason::kCancelled);
  }
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
  EXPECT_THROW(engine->submit(greedy({1}, 1)), QueueFull);
}

TEST(Lifecycle, ShutdownLetsShortRequestsFinish) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  std::vector<std::shared_ptr<Stream>> ss;
  for (int i = 0; i < 5; ++i) ss.push_back(engine->submit(greedy({1, 2, 3 + i}, 10, false)));
  engine->shutdown(10s);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ss[i]->finish_reason(), FinishReason::kLength);
    EXPECT_EQ(collect(*ss[i]), reference_greedy({1, 2, 3 + i}, V, -1, 10));
  }
}

TEST(Lifecycle, StopConditions) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(4));
  const std::vector<int32_t> prompt = {5, 6, 7};
  const auto free_run = reference_greedy(prompt, V, -1, 50);
  // An extra stop token ends with kStop and is not emitted.
  auto r = greedy(prompt, 50, false);
  r.extra_stop_tokens = {free_run[4]};
  auto st = engine->submit(r);
  auto got = collect(*st);
  const auto first = std::find(free_run.begin(), free_run.end(), free_run[4]) - free_run.begin();
  EXPECT_EQ(got, std::vector<int32_t>(free_run.begin(), free_run.begin() + first));
  EXPECT_EQ(st->finish_reason(), FinishReason::kStop);
  // max_tokens
  st = engine->submit(greedy(prompt, 7, false));
  EXPECT_EQ(collect(*st).size(), 7u);
  EXPECT_EQ(st->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(st->usage().completion_tokens, 7);
  EXPECT_GT(st->usage().time_to_first_token_ms, 0);
}

TEST(Lifecycle, ContextSizeEndsWithLength) {
  FakeModel model;
  auto o = opts(2);
  o.ctx_size = 20;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, o);
  auto st = engine->submit(greedy(std::vector<int32_t>(15, 3), 100, false));
  EXPECT_EQ(collect(*st).size(), 5u);
  EXPECT_EQ(st->finish_reason(), FinishReason::kLength);
  EXPECT_THROW(engine->submit(greedy(std::vector<int32_t>(21, 3), 1)), Error);
}

TEST(Lifecycle, BadRequestsAreRejectedAtSubmit) {
  FakeModel model;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  EXPECT_THROW(engine->submit(greedy({}, 1)), Error);
  EXPECT_THROW(engine->submit(greedy({1, 48}, 1)), Error);  // vocab is 48
  EXPECT_THROW(engine->submit(greedy({1, -1}, 1)), Error);
  auto r = greedy({1}, 1);
  r.sampling.top_p = 0;
  EXPECT_THROW(engine->submit(r), Error);
}

TEST(Lifecycle, PromptLargerThanThePoolFailsAlone) {
  FakeModel model;
  auto o = opts(2);
  o.kv_blocks = 2;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, o);
  auto big = engine->submit(greedy(std::vector<int32_t>(200, 3), 5, false));
  auto fits = engine->submit(greedy(std::vector<int32_t>(10, 3), 5, false));
  collect(*big);
  EXPECT_EQ(big->finish_reason(), FinishReason::kError);
  EXPECT_NE(big->error().find("KV blocks"), std::string::npos) << big->error();
  EXPECT_EQ(collect(*fits).size(), 5u);
  // A completion that outgrows the whole pool ends like one that reaches the context.
  // The pool holds 128 positions; the token sampled after the last of them needs no KV row.
  auto grows = engine->submit(greedy(std::vector<int32_t>(100, 3), 1000, false));
  EXPECT_EQ(collect(*grows).size(), 128u - 100u + 1u);
  EXPECT_EQ(grows->finish_reason(), FinishReason::kLength);
  wait_idle(*engine);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(Lifecycle, ModelErrorEndsTheBatchAndFreesIt) {
  FakeModel model;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  model.throw_on_token = 9;
  auto st = engine->submit(greedy({1, 9, 2}, 5));
  collect(*st);
  EXPECT_EQ(st->finish_reason(), FinishReason::kError);
  EXPECT_NE(st->error().find("poisoned"), std::string::npos);
  model.throw_on_token = -1;
  auto ok = engine->submit(greedy({1, 2}, 3, false));
  EXPECT_EQ(collect(*ok).size(), 3u);
  wait_idle(*engine);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

// Allows only tokens from a set, and is complete after `n` of them.
class CountingConstraint : public sampling::TokenConstraint {
 public:
  CountingConstraint(std::vector<int32_t> allowed, int n) : allowed_(std::move(allowed)), n_(n) {}
  bool allows(int32_t t) override {
    return std::find(allowed_.begin(), allowed_.end(), t) != allowed_.end();
  }
  void mask(std::span<float> logits) override {
    for (int32_t i = 0; i < static_cast<int32_t>(logits.size()); ++i)
      if (!allows(i)) logits[i] = -std::numeric_limits<float>::infinity();
  }
  void accept(int32_t t) override {
    EXPECT_TRUE(allows(t));
    ++seen_;
  }
  bool complete() const override { return seen_ >= n_; }

 private:
  std::vector<int32_t> allowed_;
  int n_;
  int seen_ = 0;
};

TEST(Lifecycle, ConstraintRestrictsAndEnds) {
  FakeModel model;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  auto r = greedy({1, 2, 3}, 50);
  r.constraint = std::make_shared<CountingConstraint>(std::vector<int32_t>{10, 11, 12}, 4);
  auto st = engine->submit(r);
  auto got = collect(*st);
  ASSERT_EQ(got.size(), 4u);
  for (int32_t t : got) EXPECT_TRUE(t >= 10 && t <= 12) << t;
  EXPECT_EQ(st->finish_reason(), FinishReason::kStop);
}

TEST(Lifecycle, LogprobsInEvents) {
  FakeModel model;
  const int64_t V = model.info().vocab_size;
  auto engine = make_engine(model, std::vector<int32_t>{kEog}, opts(2));
  auto r = greedy({4, 5}, 3, false);
  r.sampling.top_logprobs = 2;
  auto st = engine->submit(r);
  std::vector<TokenEvent> ev;
  collect(*st, &ev);
  ASSERT_EQ(ev.size(), 3u);
  std::vector<int32_t> hist = {4, 5};
  std::vector<float> l(V);
  for (const auto& e : ev) {
    FakeModel::reference_logits(hist, V, l.data());
    double z = 0;
    for (float x : l) z += std::exp(static_cast<double>(x));
    EXPECT_NEAR(e.logprob, l[e.token] - std::log(z), 1e-4);
    ASSERT_EQ(e.top.size(), 2u);
    EXPECT_EQ(e.top[0].token, e.token);  // greedy picks the best
    EXPECT_GE(e.top[0].logprob, e.top[1].logprob);
    hist.push_back(e.token);
  }
}

}  // namespace
}  // namespace whale::engine
