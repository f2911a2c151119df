// A deterministic stand-in for model::Model. Each new token's KV row records (token, position);
// the logits of a position are a pure function of the token history *read back from the KV
// rows*, so a block given to the wrong sequence, a row overwritten by another sequence or a
// position computed twice with different tokens changes the outputs. reference_logits() gives
// the same function from a plain token list, for expectations computed without any engine.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "model/model.h"
#include "util/error.h"

namespace whale::engine::testing {

class FakeModel : public model::Model {
 public:
  static constexpr int kValues = 32;

  explicit FakeModel(int64_t vocab = 48) {
    info_.architecture = "fake";
    info_.name = "fake";
    info_.vocab_size = vocab;
    info_.n_layers = 1;
    info_.kv_layout = {1, kValues};
  }
  const model::ModelInfo& info() const override { return info_; }

  // Logits for the next token after `history`: uniform in [-4, 4) from a generator seeded with a
  // hash of the whole history.
  static void reference_logits(std::span<const int32_t> history, int64_t vocab, float* out) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t t : history) {
      h ^= static_cast<uint64_t>(t) + 0x9e3779b97f4a7c15ull;
      h *= 1099511628211ull;
      h ^= h >> 29;
    }
    std::mt19937_64 g(h);
    for (int64_t i = 0; i < vocab; ++i)
      out[i] = static_cast<float>(static_cast<double>(g() >> 11) * 0x1.0p-53 * 8.0 - 4.0);
  }

  void forward(std::span<const model::SeqStep> batch, model::KvPool& kv,
               std::vector<float>& logits) override {
    if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us.load()));
    gate_wait();
    const int64_t V = info_.vocab_size;
    std::vector<int> sizes;
    std::set<int32_t> written;
    logits.clear();
    for (const auto& st : batch) {
      sizes.push_back(static_cast<int>(st.tokens.size()));
      if (st.tokens.empty()) fail("fake model: entry with no tokens");
      const int32_t end = st.n_past + static_cast<int32_t>(st.tokens.size());
      if (static_cast<int64_t>(st.block_table.size()) * 64 < end)
        fail("fake model: block table of ", st.block_table.size(), " blocks too short for ", end);
      std::set<int32_t> mine;
      for (size_t i = 0; i < st.tokens.size(); ++i) {
        const int32_t tok = st.tokens[i];
        if (tok < 0 || tok >= V) fail("fake model: token ", tok, " out of range");
        if (tok == throw_on_token) fail("fake model: poisoned token ", tok);
        const int32_t p = st.n_past + static_cast<int32_t>(i);
        const int32_t b = st.block_table[p / 64];
        if (kv.refcount(b) != 1) fail("fake model: writing shared/free block ", b);
        mine.insert(b);
        float row[kValues] = {};
        row[0] = static_cast<float>(tok);
        row[1] = static_cast<float>(p);
        kv.store_row(b, 0, p % 64, row);
      }
      for (int32_t b : mine)
        if (!written.insert(b).second) fail("fake model: two sequences write block ", b);
      // Logits of the last position (or all), from the history read back out of the cache.
      const int32_t first_logit = st.all_logits ? st.n_past : end - 1;
      for (int32_t q = first_logit; q < end; ++q) {
        std::vector<int32_t> hist;
        hist.reserve(q + 1);
        for (int32_t p = 0; p <= q; ++p) {
          float row[kValues];
          kv.load_row(st.block_table[p / 64], 0, p % 64, row);
          if (row[1] != static_cast<float>(p)) fail("fake model: KV row of position ", p, " holds ", row[1]);
          hist.push_back(static_cast<int32_t>(row[0]));
        }
        const size_t off = logits.size();
        logits.resize(off + V);
        reference_logits(hist, V, logits.data() + off);
      }
    }
    std::lock_guard lk(mu_);
    calls_.push_back(std::move(sizes));
  }

  // Entry sizes (new tokens per sequence) of every forward call so far.
  std::vector<std::vector<int>> calls() const {
    std::lock_guard lk(mu_);
    return calls_;
  }

  // A closed gate blocks forward() until opened (to hold the scheduler inside a step).
  void close_gate() {
    std::lock_guard lk(gate_mu_);
    gate_open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lk(gate_mu_);
      gate_open_ = true;
    }
    gate_cv_.notify_all();
  }
  bool in_forward() const { return waiting_.load(); }

  std::atomic<int> delay_us{0};
  std::atomic<int32_t> throw_on_token{-1};

 private:
  void gate_wait() {
    std::unique_lock lk(gate_mu_);
    waiting_ = true;
    gate_cv_.wait(lk, [&] { return gate_open_; });
    waiting_ = false;
  }

  model::ModelInfo info_;
  mutable std::mutex mu_;
  std::vector<std::vector<int>> calls_;
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  std::atomic<bool> waiting_{false};
};

// What greedy decoding gives for `prompt` computed straight from reference_logits: argmax (ties
// to the lowest id), stopping at `eog` (not included) or after max_tokens.
inline std::vector<int32_t> reference_greedy(std::vector<int32_t> prompt, int64_t vocab,
                                             int32_t eog, int max_tokens, int ctx_size = 1 << 30) {
  std::vector<int32_t> out;
  std::vector<float> l(vocab);
  while (static_cast<int>(out.size()) < max_tokens && static_cast<int>(prompt.size()) < ctx_size) {
    FakeModel::reference_logits(prompt, vocab, l.data());
    int32_t best = 0;
    for (int32_t i = 1; i < vocab; ++i)
      if (l[i] > l[best]) best = i;
    if (best == eog) break;
    out.push_back(best);
    prompt.push_back(best);
  }
  return out;
}

}  // namespace whale::engine::testing
