// Prometheus metrics for /metrics (text exposition format 0.0.4, spec api.md §10.2). Counters and
// histograms are kept here; gauges are read from the engine's stats at scrape time.
// Thread-safe: every method may be called from any request thread.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"

namespace whale::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count series (with HELP and TYPE lines).
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct UsageCounts {
  int64_t prompt_tokens = 0;
  int64_t cache_hit_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t reasoning_tokens = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(const std::string& endpoint, const std::string& model, int status);
  void add_usage(const UsageCounts& usage);
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_request_duration(double seconds);
  void set_http_in_flight_delta(int delta);
  int64_t http_in_flight() const;

  // The whole exposition; `stats` supplies the gauges.
  std::string render(const engine::EngineStats& stats) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> requests_;
  UsageCounts usage_;
  int64_t http_in_flight_ = 0;
  Histogram ttft_;
  Histogram itl_;
  Histogram duration_;
};

// Escapes a Prometheus label value (backslash, double quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace whale::server
