#include "cli/sse_client.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace whale::cli {

void SseReader::feed(std::string_view bytes, const OnData& on_data) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    std::string_view piece = bytes.substr(start, i - start);
    start = i + 1;
    if (partial_.empty()) {
      line(piece, on_data);
    } else {
      partial_.append(piece);
      const std::string whole = std::move(partial_);
      partial_.clear();
      line(whole, on_data);
    }
  }
  partial_.append(bytes.substr(start));
}

void SseReader::line(std::string_view l, const OnData& on_data) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) {  // blank line: the event is complete
    if (has_data_) on_data(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;  // comment (keep-alive)
  const size_t colon = l.find(':');
  const std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;  // event:, id:, retry: carry nothing we time
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

ApiEndpoint parse_api_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0)
    fail("--url \"", url, "\": expected scheme://host[:port][/base], e.g. http://127.0.0.1:8080");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") fail("--url \"", url, "\": scheme must be http or https");
  const size_t host_start = scheme_end + 3;
  const size_t slash = url.find('/', host_start);
  ApiEndpoint e;
  e.origin = url.substr(0, slash);
  if (e.origin.size() == host_start) fail("--url \"", url, "\": no host");
  std::string base = slash == std::string::npos ? "" : url.substr(slash);
  while (!base.empty() && base.back() == '/') base.pop_back();
  e.chat_path = (base.empty() ? "/v1" : base) + "/chat/completions";
  return e;
}

namespace {

using Clock = std::chrono::steady_clock;

// Reads one event's JSON into `r`; an error event sets r.error.
void take_chunk(const nlohmann::json& j, StreamResult& r, double now_s, double& last_delta_s) {
  if (j.contains("error")) {
    const auto& e = j["error"];
    r.error = "stream error event: " +
              (e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                 : e.dump());
    return;
  }
  auto u = j.find("usage");
  if (u != j.end() && u->is_object()) {
    r.completion_tokens = u->value("completion_tokens", int64_t{-1});
    r.prompt_tokens = u->value("prompt_tokens", int64_t{-1});
    r.cached_prompt_tokens = u->value("prompt_cache_hit_tokens", int64_t{-1});
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) return;
  for (const auto& c : *choices) {
    if (auto fr = c.find("finish_reason"); fr != c.end() && fr->is_string()) r.finish_reason = *fr;
    auto d = c.find("delta");
    if (d == c.end() || !d->is_object()) continue;
    auto non_empty = [&](const char* key) {
      auto it = d->find(key);
      return it != d->end() && it->is_string() && !it->get_ref<const std::string&>().empty();
    };
    // The role chunk and the finish chunk carry empty strings: they are framing, not tokens.
    const bool tokens = non_empty("content") || non_empty("reasoning_content") || d->contains("tool_calls");
    if (!tokens) continue;
    if (r.deltas == 0) r.ttft_s = now_s;
    else r.gaps_s.push_back(now_s - last_delta_s);
    last_delta_s = now_s;
    ++r.deltas;
  }
}

}  // namespace

StreamResult stream_chat(httplib::Client& client, const std::string& path, const std::string& api_key,
                         const std::string& body) {
  StreamResult r;
  SseReader reader;
  std::string error_body;  // of a non-200 answer, for the message
  bool done = false;
  double last_delta_s = 0;
  const auto t0 = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  if (!api_key.empty()) req.set_header("Authorization", "Bearer " + api_key);
  req.response_handler = [&](const httplib::Response& res) {
    r.http_status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (r.http_status != 200) {
      if (error_body.size() < 2000) error_body.append(data, std::min<size_t>(n, 2000));
      return true;
    }
    const double now = since();
    reader.feed(std::string_view(data, n), [&](std::string_view payload) {
      if (!r.error.empty() || done) return;
      if (payload == "[DONE]") {
        done = true;
        return;
      }
      const auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        r.error = "unparseable SSE event: " + std::string(payload.substr(0, 200));
        return;
      }
      take_chunk(j, r, now, last_delta_s);
    });
    return r.error.empty();  // stop reading a stream that already failed
  };

  const auto res = client.send(req);
  r.total_s = since();
  if (!r.error.empty()) return r;
  if (!res) {
    r.error = "transport error: " + httplib::to_string(res.error());
    return r;
  }
  if (r.http_status == 0) r.http_status = res->status;
  if (r.http_status != 200) {
    r.error = str_cat("HTTP ", r.http_status, ": ", error_body.substr(0, 300));
    return r;
  }
  if (!done) r.error = "stream ended without data: [DONE]";
  return r;
}

}  // namespace whale::cli
