// The process's one pool of worker threads. Created once (by the CLI command or the server),
// passed down by reference; kernels take a range of work and never spawn threads.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace whale {

class ThreadPool {
 public:
  // `n_threads` counts the calling thread: ThreadPool(1) runs everything on the caller.
  // n_threads <= 0 means one per hardware thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task, thread) for every task in [0, n_tasks), tasks handed out dynamically;
  // thread is in [0, size()). Returns when all tasks are done. The first exception a task
  // throws is rethrown here (remaining tasks are skipped). Not reentrant: one run at a time.
  void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  // Splits [0, n) into about size()*4 chunks of at least `grain` items (aligned to `grain`) and
  // calls fn(begin, end, thread) for each.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

 private:
  void worker_loop(int thread);
  // Claims and runs tasks of generation `gen` until none are left (or a newer run started).
  void claim_tasks(uint64_t gen, int thread);

  // One run is published as a 64-bit ticket: generation in the high 32 bits, index of the next
  // unclaimed task in the low 32. Tasks are claimed by compare-and-swap on the whole ticket, so
  // a worker that wakes up late (descheduled on a busy machine) can never claim a task of a run
  // other than the one it saw, and the caller never waits for workers that did not join: it
  // waits for its tasks to be done. Idle workers spin briefly (decode issues hundreds of short
  // runs per token), then sleep on the condition variable.
  static constexpr int kIndexBits = 32;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                 // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int64_t> n_tasks_{0};
  std::atomic<int64_t> done_{0};      // tasks of the current run finished (or skipped)
  std::atomic<int> sleepers_{0};      // workers blocked on wake_
  uint64_t generation_ = 0;           // only the calling thread of run() touches it
  // The current job: written before the ticket is published, read only by a thread holding a
  // claimed task of it (so the caller, still waiting, cannot change it meanwhile).
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // guarded by mu_
};

}  // namespace whale
