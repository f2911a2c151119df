#include "server/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "model/kv_cache.h"

namespace whale::server {

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back as the same double.
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void scalar(std::string& out, const std::string& name, const char* type, const char* help,
            double value) {
  header(out, name, type, help);
  out += name + " " + number(value) + "\n";
}

}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += value;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  header(out, name, "histogram", help.c_str());
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      duration_({0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}) {}

void Metrics::count_request(const std::string& endpoint, const std::string& model, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, model, status}];
}

void Metrics::add_usage(const UsageCounts& u) {
  std::lock_guard lock(mu_);
  usage_.prompt_tokens += u.prompt_tokens;
  usage_.cache_hit_tokens += u.cache_hit_tokens;
  usage_.completion_tokens += u.completion_tokens;
  usage_.reasoning_tokens += u.reasoning_tokens;
}

void Metrics::observe_time_to_first_token(double s) {
  std::lock_guard lock(mu_);
  ttft_.observe(s);
}
void Metrics::observe_inter_token_latency(double s) {
  std::lock_guard lock(mu_);
  itl_.observe(s);
}
void Metrics::observe_request_duration(double s) {
  std::lock_guard lock(mu_);
  duration_.observe(s);
}
void Metrics::set_http_in_flight_delta(int delta) {
  std::lock_guard lock(mu_);
  http_in_flight_ += delta;
}

int64_t Metrics::http_in_flight() const {
  std::lock_guard lock(mu_);
  return http_in_flight_;
}

std::string Metrics::render(const engine::EngineStats& stats) const {
  std::lock_guard lock(mu_);
  std::string out;
  header(out, "whale_requests_total", "counter", "HTTP requests by endpoint, model and status.");
  for (const auto& [key, n] : requests_) {
    const auto& [endpoint, model, status] = key;
    out += "whale_requests_total{endpoint=\"" + prometheus_label(endpoint) + "\",model=\"" +
           prometheus_label(model) + "\",status=\"" + std::to_string(status) + "\"} " +
           std::to_string(n) + "\n";
  }
  scalar(out, "whale_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
         usage_.prompt_tokens);
  scalar(out, "whale_prompt_cache_hit_tokens_total", "counter",
         "Prompt tokens served from the context cache.", usage_.cache_hit_tokens);
  scalar(out, "whale_completion_tokens_total", "counter",
         "Generated tokens, reasoning included.", usage_.completion_tokens);
  scalar(out, "whale_reasoning_tokens_total", "counter", "Generated chain-of-thought tokens.",
         usage_.reasoning_tokens);
  scalar(out, "whale_requests_running", "gauge", "Sequences the engine is decoding.",
         stats.requests_active);
  scalar(out, "whale_requests_queued", "gauge", "Requests waiting for a decode slot.",
         stats.requests_queued);
  scalar(out, "whale_http_requests_in_flight", "gauge", "HTTP requests being answered.",
         http_in_flight_);
  const double ratio = stats.kv_blocks_total > 0
                           ? static_cast<double>(stats.kv_blocks_used) / stats.kv_blocks_total
                           : 0.0;
  scalar(out, "whale_kv_cache_usage_ratio", "gauge", "Used fraction of the KV block pool.", ratio);
  scalar(out, "whale_kv_cache_tokens", "gauge", "Token slots in used KV blocks.",
         static_cast<double>(stats.kv_blocks_used) * model::KvPool::kBlockTokens);
  scalar(out, "whale_kv_cache_blocks_total", "gauge", "Blocks in the KV pool.",
         stats.kv_blocks_total);
  scalar(out, "whale_engine_preemptions_total", "counter", "Sequences preempted for KV space.",
         stats.preemptions_total);
  scalar(out, "whale_engine_steps_total", "counter", "Batched forward steps.", stats.steps_total);
  // Prompt (context) cache: RAM and disk tiers (engine/prefix_cache.h, engine/disk_cache.h).
  scalar(out, "whale_prompt_cache_hit_ratio", "gauge", "Prompt tokens served from the cache / all prompt tokens.",
         stats.prompt_tokens_total > 0
             ? static_cast<double>(stats.cached_prompt_tokens_total) / stats.prompt_tokens_total
             : 0.0);
  scalar(out, "whale_prompt_cache_ram_bytes", "gauge", "Bytes of KV blocks held by the RAM tier.", stats.cache_ram_bytes);
  scalar(out, "whale_prompt_cache_ram_blocks", "gauge", "KV blocks held by the RAM tier.", stats.cache_ram_blocks);
  scalar(out, "whale_prompt_cache_disk_bytes", "gauge", "Bytes of cache files on disk.", stats.cache_disk_bytes);
  scalar(out, "whale_prompt_cache_disk_entries", "gauge", "This model's cache entries on disk.",
         stats.cache_disk_entries);
  scalar(out, "whale_prompt_cache_ram_evictions_total", "counter", "Blocks evicted from the RAM tier.",
         stats.cache_ram_evictions_total);
  scalar(out, "whale_prompt_cache_disk_evictions_total", "counter", "Entries evicted from disk.",
         stats.cache_disk_evictions_total);
  scalar(out, "whale_prompt_cache_ram_hit_blocks_total", "counter", "Blocks reused from RAM.",
         stats.cache_ram_hit_blocks_total);
  scalar(out, "whale_prompt_cache_disk_hit_blocks_total", "counter", "Blocks loaded from disk.",
         stats.cache_disk_hit_blocks_total);
  scalar(out, "whale_prompt_cache_disk_writes_total", "counter", "Blocks written to disk.",
         stats.cache_disk_writes_total);
  scalar(out, "whale_prompt_cache_disk_errors_total", "counter", "Corrupt or truncated entries rejected.",
         stats.cache_disk_errors_total);
  ttft_.render("whale_time_to_first_token_seconds", "Time from arrival to the first token.", out);
  itl_.render("whale_inter_token_latency_seconds", "Time between consecutive tokens.", out);
  duration_.render("whale_request_duration_seconds", "Time from arrival to the last byte.", out);
  return out;
}

}  // namespace whale::server
