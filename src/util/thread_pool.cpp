#include "util/thread_pool.h"

#include <algorithm>

#include "util/error.h"

namespace whale {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// About 50-150 microseconds of pause instructions: long enough to bridge the gaps between the
// runs of one decode step, short enough not to burn a core that another process could use.
constexpr int kWorkerSpins = 2000;
// The caller spins this long for the last tasks, then yields its core between checks.
constexpr int kCallerSpins = 1000;

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(n_threads - 1);
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    stopping_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::claim_tasks(uint64_t gen, int thread) {
  for (;;) {
    uint64_t t = ticket_.load(std::memory_order_acquire);
    if ((t >> kIndexBits) != gen) return;
    const int64_t index = static_cast<int64_t>(t & ((uint64_t{1} << kIndexBits) - 1));
    if (index >= n_tasks_.load(std::memory_order_acquire)) return;
    if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
    if (!failed_.load(std::memory_order_relaxed)) {
      try {
        (*fn_)(index, thread);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_relaxed);
      }
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = ticket_.load(std::memory_order_acquire) >> kIndexBits;
    for (int spin = 0; gen == seen && spin < kWorkerSpins; ++spin) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      cpu_relax();
      gen = ticket_.load(std::memory_order_acquire) >> kIndexBits;
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);
      // seq_cst increment, then seq_cst read of the ticket in the predicate: either run() sees
      // a sleeper and notifies under mu_, or we see its new ticket here.
      wake_.wait(lock, [&] { return stop_ || (ticket_.load() >> kIndexBits) != seen; });
      sleepers_.fetch_sub(1);
      if (stop_) return;
      continue;
    }
    seen = gen;
    claim_tasks(gen, thread);
  }
}

void ThreadPool::run(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  if (n_tasks >= (int64_t{1} << kIndexBits)) fail("thread pool: ", n_tasks, " tasks in one run is too many");
  // No task of the previous run is pending (we waited for all of them), so nobody reads these.
  fn_ = &fn;
  n_tasks_.store(n_tasks, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_relaxed);
  generation_ = (generation_ + 1) & ((uint64_t{1} << (64 - kIndexBits)) - 1);
  if (generation_ == 0) generation_ = 1;  // 0 is what idle workers start having seen
  ticket_.store(generation_ << kIndexBits);  // seq_cst: publishes the job (see worker_loop)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  claim_tasks(generation_, 0);
  for (int spin = 0; done_.load(std::memory_order_acquire) < n_tasks; ++spin) {
    if (spin < kCallerSpins) cpu_relax();
    else std::this_thread::yield();
  }
  fn_ = nullptr;
  if (failed_.load(std::memory_order_relaxed)) {
    std::exception_ptr err;
    {
      std::lock_guard<std::mutex> lock(mu_);
      err = error_;
      error_ = nullptr;
    }
    if (err) std::rethrow_exception(err);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(size() * 4, (n + grain - 1) / grain));
  int64_t per = (n + chunks - 1) / chunks;
  per = (per + grain - 1) / grain * grain;
  chunks = (n + per - 1) / per;
  run(chunks, [&](int64_t c, int thread) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e, thread);
  });
}

}  // namespace whale
