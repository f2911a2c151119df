// The continuous-batching engine: one scheduler thread; each step it drops cancelled requests,
// admits waiting ones while slots and KV blocks allow, gives every running sequence its next
// tokens (a prompt chunk or one sampled token) and runs them all in one Model::forward.
//
// KV policy: blocks are allocated just before the step that writes them. When the pool runs dry
// the youngest running sequence is preempted (blocks freed, sent back to the wait queue in
// submission order, recomputed later from its tokens), so the oldest requests always progress
// and no request fails for lack of KV unless it alone needs more than the whole pool. Blocks
// held only by the prefix cache are given up before any sequence is preempted.
//
// Prefix cache: a sequence that has no KV yet (new, or preempted) first takes the longest cached
// prefix of its tokens (at least one token is always left to compute, for the logits); after
// every step the blocks it filled are published to the cache.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <thread>

#include "engine/engine.h"
#include "engine/prefix_cache.h"
#include "engine/sequence.h"
#include "engine/stream_impl.h"
#include "sampling/constraint.h"
#include "util/error.h"

namespace whale::engine {
namespace {

// Prompt tokens a step computes even when decoding sequences use up the whole step budget.
constexpr int64_t kMinPrefillTokens = 16;

int64_t blocks_for(int64_t tokens) {
  return (tokens + model::KvPool::kBlockTokens - 1) / model::KvPool::kBlockTokens;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

model::KvPool make_pool(const model::Model& model, const EngineOptions& o) {
  if (o.max_parallel < 1) fail("engine: max_parallel must be >= 1, got ", o.max_parallel);
  if (o.ctx_size < 1) fail("engine: ctx_size must be >= 1, got ", o.ctx_size);
  if (o.prefill_chunk < 1) fail("engine: prefill_chunk must be >= 1, got ", o.prefill_chunk);
  if (o.step_tokens < 1) fail("engine: step_tokens must be >= 1, got ", o.step_tokens);
  if (o.cache_ram_bytes < 0) fail("engine: cache_ram_bytes must be >= 0, got ", o.cache_ram_bytes);
  const model::KvType type = o.kv_type.value_or(model.info().preferred_kv);
  if (o.kv_blocks > 0) return model::KvPool(model.info().kv_layout, type, o.kv_blocks);
  const int64_t n = o.max_parallel * blocks_for(o.ctx_size);
  // The RAM tier of the prefix cache lives in the same pool, on top of the sequences' share
  // (a one-block pool tells the block size; its memory is returned at once).
  const auto block_bytes = static_cast<int64_t>(model::KvPool(model.info().kv_layout, type, 1).block_bytes());
  return model::KvPool(model.info().kv_layout, type, n + o.cache_ram_bytes / block_bytes);
}

CacheLog default_log(const EngineOptions& o) {
  if (o.log) return o.log;
  return [](const std::string& line) { std::fprintf(stderr, "whale: %s\n", line.c_str()); };
}

std::unique_ptr<PrefixCache> make_cache(model::KvPool& pool, const EngineOptions& o) {
  PrefixCacheOptions c;
  c.ram_bytes = o.cache_ram_bytes;
  c.log = default_log(o);
  if (o.disk_cache && !o.cache_dir.empty() && o.cache_disk_bytes > 0) {
    if (o.model_identity.empty()) {
      c.log("prompt cache: no model identity given, disk tier off");
    } else {
      c.disk_dir = o.cache_dir;
      c.disk_bytes = o.cache_disk_bytes;
      c.model_identity = o.model_identity;
    }
  }
  if (c.ram_bytes <= 0 && c.disk_dir.empty()) return nullptr;
  try {
    return std::make_unique<PrefixCache>(pool, c);
  } catch (const Error& e) {
    // A cache folder we cannot use must not stop the server: serve with the RAM tier only.
    c.log(str_cat(e.what(), "; disk tier off"));
    c.disk_dir.clear();
    return c.ram_bytes > 0 ? std::make_unique<PrefixCache>(pool, c) : nullptr;
  }
}

class BatchEngine final : public Engine {
 public:
  BatchEngine(model::Model& model, std::vector<int32_t> eog, const EngineOptions& options)
      : model_(model),
        options_(options),
        eog_(std::move(eog)),
        vocab_size_(model.info().vocab_size),
        pool_(make_pool(model, options)),
        cache_(make_cache(pool_, options)),
        signal_(std::make_shared<SchedulerSignal>()) {
    std::sort(eog_.begin(), eog_.end());
    stats_.kv_blocks_total = pool_.n_blocks();
    thread_ = std::thread([this] { loop(); });
  }

  ~BatchEngine() override { shutdown(std::chrono::milliseconds(0)); }

  std::shared_ptr<Stream> submit(GenerateRequest request) override;
  EngineStats stats() const override {
    EngineStats s;
    {
      std::lock_guard lk(signal_->mu);
      s = stats_;
    }
    // The disk tier changes between steps (its writer thread); its stats are thread-safe.
    if (const DiskCache* d = cache_ ? cache_->disk() : nullptr) {
      const DiskCacheStats ds = d->stats();
      s.cache_disk_bytes = ds.bytes;
      s.cache_disk_entries = ds.entries;
      s.cache_disk_evictions_total = ds.evictions;
      s.cache_disk_hit_blocks_total = ds.hits;
      s.cache_disk_writes_total = ds.writes;
      s.cache_disk_errors_total = ds.errors;
    }
    return s;
  }
  const EngineOptions& options() const override { return options_; }
  void shutdown(std::chrono::milliseconds deadline) override;

 private:
  using SeqPtr = std::unique_ptr<Sequence>;

  void loop();
  void admit_locked();
  void drop_cancelled_queued_locked();
  void cancel_everything_locked();
  void reap_cancelled_running();
  void step();
  // Sets step_new of every running sequence within options_.step_tokens (EngineOptions).
  void plan_step_tokens();
  // Samples the next token of a sequence whose tokens are all in the cache; marks it done when
  // it ends. Returns false if it ended.
  bool advance(Sequence& s, std::span<const float> logits_row);
  void preempt(size_t index);
  void end(Sequence& s, FinishReason reason, std::string error = {});
  bool is_stop(const Sequence& s, int32_t token) const;
  void publish_stats();
  // Takes the cached prefix of a sequence that holds no KV.
  void reuse_cached_prefix(Sequence& s);
  // A free pool block, evicting a cache-only block if needed; -1 when none.
  int32_t allocate_block();
  // Blocks free now or freeable by evicting cache-only blocks.
  int64_t available_blocks() const { return pool_.n_free() + (cache_ ? cache_->evictable() : 0); }
  int64_t blocks_in_use() const {
    return pool_.n_blocks() - pool_.n_free() - (cache_ ? cache_->exclusive_blocks() : 0);
  }

  model::Model& model_;
  const EngineOptions options_;
  std::vector<int32_t> eog_;  // sorted
  const int64_t vocab_size_;
  model::KvPool pool_;        // scheduler thread only
  std::unique_ptr<PrefixCache> cache_;  // scheduler thread only; null when off (after pool_:
                                        // destroyed first, it finishes disk writes of pool blocks)
  std::shared_ptr<SchedulerSignal> signal_;  // its mutex guards queue_, stats_, shutdown state

  std::deque<SeqPtr> queue_;     // waiting, in submission order
  uint64_t next_order_ = 0;
  bool shutdown_ = false;
  Clock::time_point deadline_;
  EngineStats stats_;

  std::vector<SeqPtr> running_;  // scheduler thread only; oldest first
  std::vector<Sequence*> ended_; // marked by end() during a step, removed after it
  int64_t preemptions_ = 0;      // scheduler-thread tallies, published after each step
  int64_t steps_ = 0;
  int64_t completion_tokens_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t cached_tokens_ = 0;
  std::vector<float> logits_;
  std::vector<model::SeqStep> batch_;

  std::mutex shutdown_mu_;  // serialises shutdown() callers around the join
  std::thread thread_;
};

std::shared_ptr<Stream> BatchEngine::submit(GenerateRequest request) {
  if (request.prompt.empty()) fail("engine: request ", request.request_id, " has an empty prompt");
  if (static_cast<int64_t>(request.prompt.size()) > options_.ctx_size)
    fail("engine: prompt of ", request.prompt.size(), " tokens exceeds the context size ",
         options_.ctx_size);
  for (int32_t t : request.prompt)
    if (t < 0 || t >= vocab_size_)
      fail("engine: prompt token id ", t, " is outside the vocabulary (size ", vocab_size_, ")");
  auto seq = std::make_unique<Sequence>();
  seq->sampler = std::make_unique<sampling::Sampler>(request.sampling, vocab_size_);
  seq->sampler->set_prompt(request.prompt);
  seq->tokens = request.prompt;
  seq->n_prompt = static_cast<int32_t>(request.prompt.size());
  seq->request = std::move(request);
  seq->stream = std::make_shared<StreamImpl>(signal_);
  seq->submitted = Clock::now();
  std::shared_ptr<Stream> stream = seq->stream;
  {
    std::lock_guard lk(signal_->mu);
    if (shutdown_) throw QueueFull("engine: shutting down, not accepting requests");
    if (options_.max_queue > 0 && static_cast<int64_t>(queue_.size()) >= options_.max_queue)
      throw QueueFull(str_cat("engine: wait queue is full (", queue_.size(), " requests)"));
    seq->order = next_order_++;
    queue_.push_back(std::move(seq));
    ++stats_.requests_total;
    stats_.requests_queued = static_cast<int64_t>(queue_.size());
  }
  signal_->cv.notify_all();
  return stream;
}

void BatchEngine::shutdown(std::chrono::milliseconds deadline) {
  std::lock_guard serial(shutdown_mu_);
  {
    std::lock_guard lk(signal_->mu);
    const auto d = Clock::now() + deadline;
    if (!shutdown_ || d < deadline_) deadline_ = d;  // a second, shorter deadline wins
    shutdown_ = true;
  }
  signal_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchEngine::loop() {
  for (;;) {
    {
      std::unique_lock lk(signal_->mu);
      for (;;) {
        drop_cancelled_queued_locked();
        if (shutdown_ && (Clock::now() >= deadline_ || (queue_.empty() && running_.empty()))) {
          cancel_everything_locked();
          stats_.requests_active = 0;
          stats_.requests_queued = 0;
          stats_.kv_blocks_used = blocks_in_use();
          return;
        }
        if (!running_.empty() || !queue_.empty()) break;
        if (shutdown_)
          signal_->cv.wait_until(lk, deadline_);
        else
          signal_->cv.wait(lk);
      }
      admit_locked();
    }
    reap_cancelled_running();
    try {
      if (!running_.empty()) step();
    } catch (const std::exception& e) {
      // A bug or resource failure inside a step must not take the scheduler thread down (and the
      // process with it): the requests of that step end with the error, the rest go on.
      for (auto& s : running_) end(*s, FinishReason::kError, str_cat("engine: ", e.what()));
      running_.clear();
      ended_.clear();
    }
    publish_stats();
  }
}

void BatchEngine::drop_cancelled_queued_locked() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->stream->cancel_requested()) {
      end(**it, FinishReason::kCancelled);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  ended_.clear();
}

void BatchEngine::admit_locked() {
  while (static_cast<int>(running_.size()) < options_.max_parallel && !queue_.empty()) {
    Sequence& s = *queue_.front();
    // Keep one spare block per running sequence so admitting does not immediately force a
    // preemption when they cross a block boundary; with nothing running, always admit.
    const int64_t need = blocks_for(std::min(s.pending(), options_.prefill_chunk));
    if (!running_.empty() && available_blocks() < need + static_cast<int64_t>(running_.size())) break;
    if (!s.counted) {
      s.counted = true;
      prompt_tokens_ += s.n_prompt;
    }
    SeqPtr p = std::move(queue_.front());
    queue_.pop_front();
    auto pos = std::lower_bound(running_.begin(), running_.end(), p->order,
                                [](const SeqPtr& a, uint64_t o) { return a->order < o; });
    running_.insert(pos, std::move(p));
  }
}

void BatchEngine::cancel_everything_locked() {
  for (auto& s : running_) end(*s, FinishReason::kCancelled);
  for (auto& s : queue_) end(*s, FinishReason::kCancelled);
  running_.clear();
  queue_.clear();
  ended_.clear();
}

void BatchEngine::reap_cancelled_running() {
  for (auto& s : running_)
    if (s->stream->cancel_requested()) end(*s, FinishReason::kCancelled);
  if (ended_.empty()) return;
  std::erase_if(running_, [&](const SeqPtr& s) {
    return std::find(ended_.begin(), ended_.end(), s.get()) != ended_.end();
  });
  ended_.clear();
}

bool BatchEngine::is_stop(const Sequence& s, int32_t token) const {
  if (s.request.stop_at_eog && std::binary_search(eog_.begin(), eog_.end(), token)) return true;
  const auto& extra = s.request.extra_stop_tokens;
  return std::find(extra.begin(), extra.end(), token) != extra.end();
}

void BatchEngine::end(Sequence& s, FinishReason reason, std::string error) {
  for (int32_t b : s.blocks) pool_.release(b);
  s.blocks.clear();
  s.n_computed = 0;
  const auto now = Clock::now();
  Usage u;
  u.prompt_tokens = s.n_prompt;
  u.cached_prompt_tokens = s.cached_tokens;
  u.completion_tokens = s.n_generated;
  if (s.has_first_token) {
    u.time_to_first_token_ms = ms_between(s.submitted, s.first_token);
    u.decode_ms = ms_between(s.first_token, now);
  }
  s.stream->finish(reason, u, std::move(error));
  ended_.push_back(&s);
}

void BatchEngine::preempt(size_t index) {
  SeqPtr p = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  for (int32_t b : p->blocks) pool_.release(b);
  p->blocks.clear();
  p->n_computed = 0;
  ++preemptions_;
  std::lock_guard lk(signal_->mu);
  auto pos = std::lower_bound(queue_.begin(), queue_.end(), p->order,
                              [](const SeqPtr& a, uint64_t o) { return a->order < o; });
  queue_.insert(pos, std::move(p));
}

void BatchEngine::plan_step_tokens() {
  // Decoding sequences first: one token each (they hold their streams' inter-token latency).
  int64_t budget = options_.step_tokens;
  for (auto& s : running_) {
    const bool decoding = s->n_computed >= s->n_prompt && s->n_computed > 0;
    s->step_new = decoding ? std::min(s->pending(), options_.prefill_chunk) : 0;
    budget -= s->step_new;
  }
  // Then prompts in arrival order (running_ is sorted by it): the oldest prompt finishes first
  // instead of every prompt advancing together, so first tokens come one after another, and the
  // completions that follow stay out of lock-step.
  int64_t left = std::max<int64_t>(budget, std::min<int64_t>(kMinPrefillTokens, options_.step_tokens));
  for (auto& s : running_) {
    if (left <= 0) break;
    if (s->step_new > 0 || s->pending() <= 0) continue;
    // A chunk never spans the end of the prompt (possible when a preempted sequence recomputes),
    // so a step is all prompt tokens or none: their numerics differ (model.h SeqStep::prompt).
    const int64_t in_prompt = s->n_computed < s->n_prompt ? s->n_prompt - s->n_computed : s->pending();
    s->step_new = static_cast<int32_t>(std::min<int64_t>({s->pending(), in_prompt, options_.prefill_chunk, left}));
    left -= s->step_new;
  }
}

void BatchEngine::step() {
  struct Planned {
    Sequence* seq;
    int32_t n_new;
  };
  if (cache_) {
    cache_->poll();
    for (auto& s : running_)
      if (s->blocks.empty()) reuse_cached_prefix(*s);
  }
  plan_step_tokens();
  std::vector<Planned> planned;
  for (size_t i = 0; i < running_.size();) {
    Sequence& s = *running_[i];
    const int32_t n_new = s.step_new;
    if (n_new == 0) {  // a prompt waiting for budget: keeps its place and its blocks
      ++i;
      continue;
    }
    const int64_t need = blocks_for(s.n_computed + n_new);
    if (need > pool_.n_blocks()) {
      // This request alone outgrows the pool: a prompt that cannot fit is an error; a
      // completion that reaches the pool's capacity ends like one that reaches the context.
      if (s.n_computed + n_new <= s.n_prompt)
        end(s, FinishReason::kError,
            str_cat("engine: prompt of ", s.n_prompt, " tokens needs ", blocks_for(s.n_prompt),
                    " KV blocks, the pool has ", pool_.n_blocks()));
      else
        end(s, FinishReason::kLength);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      ended_.clear();
      continue;
    }
    bool self_preempted = false;
    while (static_cast<int64_t>(s.blocks.size()) < need) {
      const int32_t b = allocate_block();
      if (b >= 0) {
        s.blocks.push_back(b);
        continue;
      }
      // Out of blocks: the youngest sequence gives its blocks back (possibly this one).
      const size_t youngest = running_.size() - 1;
      preempt(youngest);
      if (youngest == i) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) break;  // it was the last one
    planned.push_back({&s, n_new});
    ++i;
  }
  if (planned.empty()) return;

  batch_.clear();
  for (const auto& p : planned) {
    Sequence& s = *p.seq;
    model::SeqStep st;
    st.tokens = std::span<const int32_t>(s.tokens.data() + s.n_computed, p.n_new);
    st.n_past = s.n_computed;
    st.block_table = s.blocks;
    st.all_logits = false;
    st.prompt = s.n_computed + p.n_new <= s.n_prompt;  // see plan_step_tokens
    batch_.push_back(st);
  }
  ++steps_;
  try {
    model_.forward(batch_, pool_, logits_);
    if (logits_.size() < planned.size() * static_cast<size_t>(vocab_size_))
      fail("engine: model returned ", logits_.size(), " logits for ", planned.size(),
           " rows of ", vocab_size_);
  } catch (const std::exception& e) {
    for (const auto& p : planned) end(*p.seq, FinishReason::kError, e.what());
    reap_cancelled_running();  // removes the ended ones
    return;
  }
  for (size_t k = 0; k < planned.size(); ++k) {
    Sequence& s = *planned[k].seq;
    const int32_t full_before = s.n_computed / model::KvPool::kBlockTokens;
    s.n_computed += planned[k].n_new;
    if (cache_)
      cache_->publish(s.tokens, s.blocks, full_before, s.n_computed / model::KvPool::kBlockTokens,
                      s.chain);
    if (s.pending() > 0) continue;  // more of the prompt to come
    advance(s, std::span<const float>(logits_.data() + k * vocab_size_, vocab_size_));
  }
  reap_cancelled_running();  // removes every sequence that ended in this step
}

bool BatchEngine::advance(Sequence& s, std::span<const float> row) {
  const GenerateRequest& r = s.request;
  if (s.n_generated >= r.max_tokens || static_cast<int64_t>(s.tokens.size()) >= options_.ctx_size) {
    end(s, FinishReason::kLength);
    return false;
  }
  sampling::Sample pick;
  try {
    pick = s.sampler->sample(row, r.constraint.get());
  } catch (const std::exception& e) {
    end(s, FinishReason::kError, e.what());
    return false;
  }
  if (is_stop(s, pick.token)) {
    end(s, FinishReason::kStop);
    return false;
  }
  if (r.constraint) {
    try {
      r.constraint->accept(pick.token);
    } catch (const std::exception& e) {
      end(s, FinishReason::kError, e.what());
      return false;
    }
  }
  if (!s.has_first_token) {
    s.has_first_token = true;
    s.first_token = Clock::now();
  }
  TokenEvent ev;
  ev.token = pick.token;
  ev.logprob = pick.logprob;
  ev.top.reserve(pick.top.size());
  for (const auto& t : pick.top) ev.top.push_back({t.token, t.logprob});
  s.stream->push(std::move(ev));
  ++s.n_generated;
  ++completion_tokens_;
  s.tokens.push_back(pick.token);
  if (r.constraint && r.constraint->complete() && !r.constraint->can_continue()) {
    end(s, FinishReason::kStop);
    return false;
  }
  if (s.n_generated >= r.max_tokens || static_cast<int64_t>(s.tokens.size()) >= options_.ctx_size) {
    end(s, FinishReason::kLength);
    return false;
  }
  return true;
}

void BatchEngine::reuse_cached_prefix(Sequence& s) {
  // At least the last token is computed: its logits choose the next token.
  const auto limit = static_cast<int32_t>(s.tokens.size()) - 1;
  const PrefixCache::Match m = cache_->acquire(s.tokens, limit, s.chain, s.blocks);
  s.n_computed = m.tokens;
  if (!s.cache_looked_up) {
    // Reported hits are whole 64-token blocks of the prompt (spec api.md §5), even when a
    // partial block was copied too.
    s.cache_looked_up = true;
    const int32_t k = model::KvPool::kBlockTokens;
    s.cached_tokens = std::min(m.tokens, s.n_prompt - 1) / k * k;
    cached_tokens_ += s.cached_tokens;
  }
}

int32_t BatchEngine::allocate_block() {
  int32_t b = pool_.allocate();
  while (b < 0 && cache_ && cache_->evict_one()) b = pool_.allocate();
  return b;
}

void BatchEngine::publish_stats() {
  const PrefixCacheStats c = cache_ ? cache_->stats() : PrefixCacheStats{};
  const int64_t used = blocks_in_use();
  std::lock_guard lk(signal_->mu);
  stats_.cached_prompt_tokens_total = cached_tokens_;
  stats_.cache_ram_bytes = c.ram_bytes;
  stats_.cache_ram_blocks = c.ram_blocks;
  stats_.cache_ram_evictions_total = c.ram_evictions;
  stats_.cache_ram_hit_blocks_total = c.ram_hit_blocks;
  stats_.cache_disk_bytes = c.disk.bytes;
  stats_.cache_disk_entries = c.disk.entries;
  stats_.cache_disk_evictions_total = c.disk.evictions;
  stats_.cache_disk_hit_blocks_total = c.disk.hits;
  stats_.cache_disk_writes_total = c.disk.writes;
  stats_.cache_disk_errors_total = c.disk.errors;
  stats_.requests_active = static_cast<int64_t>(running_.size());
  stats_.requests_queued = static_cast<int64_t>(queue_.size());
  stats_.prompt_tokens_total = prompt_tokens_;
  stats_.completion_tokens_total = completion_tokens_;
  stats_.kv_blocks_used = used;
  stats_.preemptions_total = preemptions_;
  stats_.steps_total = steps_;
}

}  // namespace

std::unique_ptr<Engine> make_engine(model::Model& model, std::vector<int32_t> eog_tokens,
                                    const EngineOptions& options) {
  return std::make_unique<BatchEngine>(model, std::move(eog_tokens), options);
}

}  // namespace whale::engine
