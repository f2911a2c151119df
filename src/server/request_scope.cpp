#include "server/generation.h"
#include "server/handler.h"

#include <cstdio>

namespace whale::server {

RequestScope::RequestScope(ServerContext& ctx, std::string endpoint, std::string method)
    : ctx_(ctx),
      id_(make_uuid_v4()),
      endpoint_(std::move(endpoint)),
      method_(std::move(method)),
      start_(std::chrono::steady_clock::now()) {
  ctx_.metrics.set_http_in_flight_delta(1);
}

RequestScope::~RequestScope() {
  if (!completed_) complete(499);
  ctx_.metrics.set_http_in_flight_delta(-1);
}

void RequestScope::complete(int status, const GenerationUsage* usage,
                            const std::string& finish_reason, double ttft_s,
                            const std::vector<double>* itl) {
  if (completed_) return;
  completed_ = true;
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  auto& m = ctx_.metrics;
  m.count_request(endpoint_, model_, status);
  m.observe_request_duration(total_s);
  if (usage) {
    m.add_usage({usage->prompt_tokens, usage->cache_hit_tokens, usage->completion_tokens,
                 usage->reasoning_tokens});
  }
  if (ttft_s >= 0) m.observe_time_to_first_token(ttft_s);
  if (itl)
    for (double s : *itl) m.observe_inter_token_latency(s);
  // One line per request on stderr; prompt text only with --log-prompts.
  std::string line = "whale serve: " + id_ + " " + method_ + " " + endpoint_ + " status=" +
                     std::to_string(status);
  if (!model_.empty()) line += " model=" + model_;
  if (usage) {
    line += " prompt=" + std::to_string(usage->prompt_tokens) +
            " cached=" + std::to_string(usage->cache_hit_tokens) +
            " completion=" + std::to_string(usage->completion_tokens) +
            " reasoning=" + std::to_string(usage->reasoning_tokens);
  }
  if (!finish_reason.empty()) line += " finish=" + finish_reason;
  char buf[64];
  if (ttft_s >= 0) {
    std::snprintf(buf, sizeof buf, " ttft_ms=%.1f", ttft_s * 1000);
    line += buf;
  }
  std::snprintf(buf, sizeof buf, " total_ms=%.1f", total_s * 1000);
  line += buf;
  if (ctx_.log_prompts && !prompt_log_.empty()) line += " prompt_text=" + prompt_log_;
  line += "\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace whale::server
