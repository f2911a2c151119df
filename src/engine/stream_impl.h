// The engine's side of a Stream: the scheduler pushes events and the finish; the consumer pulls.
// cancel() only raises a flag and wakes the scheduler, which frees the sequence at its next step.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace whale::engine {

// What a stream needs to wake the scheduler; shared so a stream may outlive its engine.
struct SchedulerSignal {
  std::mutex mu;
  std::condition_variable cv;
};

class StreamImpl final : public Stream {
 public:
  explicit StreamImpl(std::shared_ptr<SchedulerSignal> signal) : signal_(std::move(signal)) {}

  bool next(std::vector<TokenEvent>& out, std::chrono::milliseconds timeout) override;
  void cancel() override;
  bool finished() const override;
  FinishReason finish_reason() const override;
  Usage usage() const override;
  std::string error() const override;

  // Scheduler side.
  bool cancel_requested() const { return cancel_.load(std::memory_order_acquire); }
  void push(TokenEvent event);
  // Ends the stream; later calls are ignored (the first reason wins).
  void finish(FinishReason reason, const Usage& usage, std::string error = {});

 private:
  std::shared_ptr<SchedulerSignal> signal_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TokenEvent> pending_;  // guarded by mu_
  bool finished_ = false;            // guarded by mu_
  FinishReason reason_ = FinishReason::kNone;
  Usage usage_;
  std::string error_;
};

}  // namespace whale::engine
