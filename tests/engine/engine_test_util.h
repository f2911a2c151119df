// Helpers for engine tests: drain a stream, wait for the scheduler to go idle.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace whale::engine {

// Every token a stream produces until it finishes (fails the test after 30 s).
inline std::vector<int32_t> collect(Stream& s, std::vector<TokenEvent>* events = nullptr) {
  std::vector<TokenEvent> ev;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (s.next(ev, std::chrono::milliseconds(100))) {
    if (std::chrono::steady_clock::now() > limit) {
      ADD_FAILURE() << "stream did not finish in 30 s";
      break;
    }
  }
  std::vector<int32_t> out;
  for (const auto& e : ev) out.push_back(e.token);
  if (events) *events = std::move(ev);
  return out;
}

// Waits until the engine has no running or queued request and its stats caught up.
inline void wait_idle(const Engine& e) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < limit) {
    const EngineStats s = e.stats();
    if (s.requests_active == 0 && s.requests_queued == 0 && s.kv_blocks_used == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace whale::engine
