#include "engine/stream_impl.h"

namespace whale::engine {

bool StreamImpl::next(std::vector<TokenEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return !pending_.empty() || finished_; });
  if (!pending_.empty()) {
    for (auto& e : pending_) out.push_back(std::move(e));
    pending_.clear();
    return true;
  }
  return !finished_;
}

void StreamImpl::cancel() {
  cancel_.store(true, std::memory_order_release);
  // Taking the scheduler's lock before notifying means it either saw the flag before it went to
  // sleep or gets this wake-up.
  std::lock_guard lk(signal_->mu);
  signal_->cv.notify_all();
}

bool StreamImpl::finished() const {
  std::lock_guard lk(mu_);
  return finished_;
}

FinishReason StreamImpl::finish_reason() const {
  std::lock_guard lk(mu_);
  return reason_;
}

Usage StreamImpl::usage() const {
  std::lock_guard lk(mu_);
  return usage_;
}

std::string StreamImpl::error() const {
  std::lock_guard lk(mu_);
  return error_;
}

void StreamImpl::push(TokenEvent event) {
  {
    std::lock_guard lk(mu_);
    if (finished_) return;
    pending_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void StreamImpl::finish(FinishReason reason, const Usage& usage, std::string error) {
  {
    std::lock_guard lk(mu_);
    if (finished_) return;
    finished_ = true;
    reason_ = reason;
    usage_ = usage;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

}  // namespace whale::engine
