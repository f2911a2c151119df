#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace whale {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> hits(1000);
      pool.run(1000, [&](int64_t t, int thread) {
        ASSERT_LT(thread, pool.size());
        hits[t]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, ParallelForCoversRangeAlignedToGrain) {
  ThreadPool pool(3);
  std::vector<int> seen(1003, 0);
  pool.parallel_for(1003, 8, [&](int64_t b, int64_t e, int) {
    EXPECT_EQ(b % 8, 0);
    for (int64_t i = b; i < e; ++i) seen[i]++;
  });
  for (int v : seen) ASSERT_EQ(v, 1);
}

TEST(ThreadPool, RethrowsTaskException) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(100, [](int64_t t, int) {
    if (t == 37) throw std::runtime_error("boom");
  }), std::runtime_error);
  // still usable afterwards
  std::atomic<int> n{0};
  pool.run(10, [&](int64_t, int) { n++; });
  EXPECT_EQ(n.load(), 10);
}

}  // namespace
}  // namespace whale
