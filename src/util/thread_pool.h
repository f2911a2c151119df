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
  void work(int thread);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;  // guarded by mu_; bumped for every run
  bool stop_ = false;        // guarded by mu_
  int active_ = 0;           // workers still inside the current run; guarded by mu_
  std::atomic<uint64_t> published_generation_{0};

  // The current job (valid while a run is in progress).
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // guarded by mu_
};

}  // namespace whale
