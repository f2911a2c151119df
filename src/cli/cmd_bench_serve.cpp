// whale bench-serve: a load generator for the API server. For each concurrency level it runs
// that many client threads, each sending streaming chat requests back to back, and reports the
// aggregate decode throughput, time to first token and inter-token latency the clients saw.
//
// Every prompt differs from its first word on (seeded per run, level and request), so the
// server's prefix cache cannot turn the measurement into cache hits; --shared-prefix instead
// gives all prompts one long common body and a short unique tail, to measure the cache.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/server_process.h"
#include "cli/sse_client.h"
#include "util/error.h"

namespace whale::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchServeOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string concurrency = "1,4,8,16";
  int requests = 0;  // per level; 0: twice the concurrency
  int prompt_tokens = 128;
  int max_tokens = 128;
  std::string api_key;
  std::string model = "deepseek-chat";
  bool json = false;
  bool shared_prefix = false;
  int warmup = 1;
  bool no_calibrate = false;  // one word per prompt token instead of measuring
  uint64_t seed = 0;  // 0: from the clock, so a second run does not hit the first run's cache
  double timeout_s = 600;
  std::string spawn_model;
  int serve_threads = 0;
  int serve_ctx_size = 0;
  double startup_timeout_s = 600;
  // Seconds over which the streams of a level start (stream t after t * ramp_up / concurrency).
  // Negative: the mean request time measured at concurrency 1 (0 if that level is not run), so
  // the streams arrive phased as in a steady state rather than as one synchronized burst whose
  // prompts all wait for one another.
  double ramp_up_s = -1;
};

// splitmix64: a tiny deterministic generator, enough to pick words.
uint64_t mix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Short common English words; how many tokens each makes depends on the model's vocabulary,
// so the word count is calibrated against the server's usage (calibrate_words).
const std::vector<std::string>& prompt_words() {
  static const std::vector<std::string> words = {
      "river", "stone", "green", "light", "house", "water", "paper", "music", "night", "horse",
      "table", "field", "storm", "cloud", "bread", "glass", "chair", "plant", "train", "beach",
      "sound", "color", "dream", "earth", "floor", "heart", "money", "north", "ocean", "party",
      "queen", "radio", "sheep", "smile", "south", "sugar", "tiger", "voice", "watch", "world",
      "apple", "black", "board", "brain", "cable", "coast", "dance", "drink", "fruit", "grass",
      "metal", "mouth", "phone", "price", "road", "salt", "ship", "snow", "song", "star",
      "tree", "wind", "wood", "year", "bird", "book", "city", "door", "fire", "fish",
      "gold", "hand", "hill", "iron", "king", "lake", "leaf", "milk", "moon", "rain"};
  return words;
}

std::string random_words(uint64_t state, int n) {
  const auto& w = prompt_words();
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out.push_back(' ');
    out += w[mix64(state) % w.size()];
  }
  return out;
}

// The prompt of request `index` of level `level`: `words` random words and a short tag.
std::string make_prompt(const BenchServeOptions& o, uint64_t seed, int words, int level, int index) {
  const std::string tag = str_cat("Request ", level, "-", index, ". Continue the list:");
  if (o.shared_prefix) return random_words(seed, words) + " " + tag;
  return random_words(seed ^ (uint64_t(level) << 40) ^ (uint64_t(index) * 0x100000001B3ull), words) + " " + tag;
}

std::string request_body(const BenchServeOptions& o, const std::string& prompt, int max_tokens) {
  nlohmann::json j;
  j["model"] = o.model;
  j["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  j["stream"] = true;
  j["stream_options"] = {{"include_usage", true}};
  j["temperature"] = 0;
  j["max_tokens"] = max_tokens;
  return j.dump();
}

std::unique_ptr<httplib::Client> make_client(const ApiEndpoint& ep, double timeout_s) {
  auto c = std::make_unique<httplib::Client>(ep.origin);
  const auto sec = static_cast<time_t>(timeout_s);
  c->set_connection_timeout(10, 0);
  c->set_read_timeout(sec, 0);
  c->set_write_timeout(sec, 0);
  return c;
}

// Nearest-rank percentile (p in 0..100) of `v`; NaN when empty.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}

struct LevelReport {
  int concurrency = 0, requests = 0, errors = 0;
  double wall_s = 0;
  int64_t completion_tokens = 0, prompt_tokens = 0, cached_prompt_tokens = 0;
  bool usage_missing = false;  // some stream had no usage: its deltas were counted instead
  double ttft_p50 = 0, ttft_p99 = 0, ttft_mean = 0;  // seconds
  double itl_p50 = 0, itl_p99 = 0;
  double tpot_mean = 0;         // per request: (total - ttft) / (completion tokens - 1)
  std::string first_error;

  double decode_tok_s() const { return wall_s > 0 ? completion_tokens / wall_s : 0; }
  int ok() const { return requests - errors; }
};

LevelReport summarize(int concurrency, double wall_s, const std::vector<StreamResult>& results) {
  LevelReport r;
  r.concurrency = concurrency;
  r.requests = static_cast<int>(results.size());
  r.wall_s = wall_s;
  std::vector<double> ttft, gaps, tpot;
  for (const auto& s : results) {
    if (!s.error.empty()) {
      ++r.errors;
      if (r.first_error.empty()) r.first_error = s.error;
      continue;
    }
    int64_t tokens = s.completion_tokens;
    if (tokens < 0) {
      r.usage_missing = true;
      tokens = s.deltas;
    }
    r.completion_tokens += tokens;
    r.prompt_tokens += std::max<int64_t>(0, s.prompt_tokens);
    r.cached_prompt_tokens += std::max<int64_t>(0, s.cached_prompt_tokens);
    if (s.ttft_s >= 0) ttft.push_back(s.ttft_s);
    gaps.insert(gaps.end(), s.gaps_s.begin(), s.gaps_s.end());
    if (s.ttft_s >= 0 && tokens > 1) tpot.push_back((s.total_s - s.ttft_s) / double(tokens - 1));
  }
  r.ttft_p50 = percentile(ttft, 50);
  r.ttft_p99 = percentile(ttft, 99);
  r.ttft_mean = mean(ttft);
  r.itl_p50 = percentile(gaps, 50);
  r.itl_p99 = percentile(gaps, 99);
  r.tpot_mean = mean(tpot);
  return r;
}

// Runs one level: `concurrency` threads take request numbers from a shared counter until
// `requests` have been sent, so slow requests never leave a thread idle while work remains.
LevelReport run_level(const BenchServeOptions& o, const ApiEndpoint& ep, uint64_t seed, int words,
                      int concurrency, int requests, double ramp_up_s) {
  std::vector<std::string> bodies;
  for (int i = 0; i < requests; ++i)
    bodies.push_back(request_body(o, make_prompt(o, seed, words, concurrency, i), o.max_tokens));
  std::vector<StreamResult> results(requests);
  std::atomic<int> next{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto client = make_client(ep, o.timeout_s);
      std::this_thread::sleep_until(t0 + std::chrono::duration<double>(ramp_up_s * t / concurrency));
      for (int i; (i = next.fetch_add(1)) < requests;)
        results[i] = stream_chat(*client, ep.chat_path, o.api_key, bodies[i]);
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return summarize(concurrency, wall, results);
}

// Waits until GET /health answers 200 (the server may still be loading its model).
void wait_healthy(const ApiEndpoint& ep, const std::string& api_key, double timeout_s) {
  httplib::Client c(ep.origin);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  httplib::Headers h;
  if (!api_key.empty()) h.emplace("Authorization", "Bearer " + api_key);
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  std::string last;
  while (true) {
    const auto res = c.Get("/health", h);
    if (res && res->status == 200) return;
    last = res ? str_cat("HTTP ", res->status, " ", res->body.substr(0, 200)) : httplib::to_string(res.error());
    if (Clock::now() >= deadline) fail("server at ", ep.origin, " is not healthy after ", timeout_s, " s: ", last);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

nlohmann::ordered_json level_json(const LevelReport& r) {
  auto ms = [](double s) { return std::isnan(s) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s * 1000); };
  nlohmann::ordered_json j;
  j["concurrency"] = r.concurrency;
  j["requests"] = r.requests;
  j["errors"] = r.errors;
  j["wall_s"] = r.wall_s;
  j["completion_tokens"] = r.completion_tokens;
  j["prompt_tokens_mean"] = r.ok() ? double(r.prompt_tokens) / r.ok() : 0.0;
  j["cached_prompt_tokens"] = r.cached_prompt_tokens;
  j["decode_tok_s"] = r.decode_tok_s();
  j["requests_per_s"] = r.wall_s > 0 ? r.ok() / r.wall_s : 0.0;
  j["ttft_p50_ms"] = ms(r.ttft_p50);
  j["ttft_p99_ms"] = ms(r.ttft_p99);
  j["ttft_mean_ms"] = ms(r.ttft_mean);
  j["itl_p50_ms"] = ms(r.itl_p50);
  j["itl_p99_ms"] = ms(r.itl_p99);
  j["tpot_mean_ms"] = ms(r.tpot_mean);
  j["usage_missing"] = r.usage_missing;
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

void print_table(const BenchServeOptions& o, const std::string& url, const std::vector<LevelReport>& levels) {
  std::printf("bench-serve %s  model %s  prompt ~%d tokens%s  max_tokens %d\n", url.c_str(), o.model.c_str(),
              o.prompt_tokens, o.shared_prefix ? " (shared prefix)" : "", o.max_tokens);
  std::printf("%5s %5s %4s %8s %7s %8s %6s %9s %9s %6s %8s %8s %8s\n", "conc", "reqs", "err", "wall s", "prompt",
              "tok/s", "x c1", "TTFT p50", "TTFT p99", "x c1", "ITL p50", "ITL p99", "TPOT");
  const LevelReport* base = nullptr;
  for (const auto& r : levels)
    if (r.concurrency == 1) base = &r;
  auto ratio = [](double a, double b) { return b > 0 && !std::isnan(a) && !std::isnan(b) ? a / b : std::nan(""); };
  for (const auto& r : levels) {
    const double tput_x = base ? ratio(r.decode_tok_s(), base->decode_tok_s()) : std::nan("");
    const double ttft_x = base ? ratio(r.ttft_p99, base->ttft_p99) : std::nan("");
    std::printf("%5d %5d %4d %8.2f %7.0f %8.2f %6.2f %7.0fms %7.0fms %6.2f %6.1fms %6.1fms %6.1fms\n", r.concurrency,
                r.requests, r.errors, r.wall_s, r.ok() ? double(r.prompt_tokens) / r.ok() : 0.0, r.decode_tok_s(),
                tput_x, r.ttft_p50 * 1000, r.ttft_p99 * 1000, ttft_x, r.itl_p50 * 1000, r.itl_p99 * 1000,
                r.tpot_mean * 1000);
  }
  for (const auto& r : levels)
    if (!r.first_error.empty()) std::printf("c=%d first error: %s\n", r.concurrency, r.first_error.c_str());
  // The serving target (issue): 8 streams give >= 2x the single-stream decode throughput with
  // TTFT p99 under 3x the single-stream one.
  for (const auto& r : levels) {
    if (!base || r.concurrency != 8) continue;
    const double tx = ratio(r.decode_tok_s(), base->decode_tok_s()), fx = ratio(r.ttft_p99, base->ttft_p99);
    std::printf("target at 8 streams: throughput %.2fx c1 (want >= 2): %s; TTFT p99 %.2fx c1 (want < 3): %s\n", tx,
                tx >= 2 ? "met" : "missed", fx, fx < 3 ? "met" : "missed");
  }
}

// Words of prompt that make about `target` prompt tokens as the server counts them (usage,
// chat template included). Tokenizers differ widely (the demo model's splits words into
// several tokens), so two short unmeasured requests of different lengths measure tokens per
// word and the template's fixed overhead.
int calibrate_words(const BenchServeOptions& o, const ApiEndpoint& ep, uint64_t seed) {
  const int a = 32, b = 96;  // short: calibration must fit any context
  auto client = make_client(ep, o.timeout_s);
  int64_t tokens[2];
  const int words[2] = {a, b};
  for (int k = 0; k < 2; ++k) {
    const auto res = stream_chat(*client, ep.chat_path, o.api_key,
                                 request_body(o, make_prompt(o, seed ^ 0x5A5Au, words[k], -1, k), 1));
    if (!res.error.empty()) fail("calibration request to ", ep.origin, ep.chat_path, " failed: ", res.error);
    if (res.prompt_tokens <= 0) return o.prompt_tokens;  // no usage: one token per word
    tokens[k] = res.prompt_tokens;
  }
  const double per_word = double(tokens[1] - tokens[0]) / (b - a);
  if (per_word <= 0) return o.prompt_tokens;
  const double overhead = tokens[0] - per_word * a;
  return std::max(1, static_cast<int>(std::lround((o.prompt_tokens - overhead) / per_word)));
}

void bench_serve(const BenchServeOptions& o) {
  std::vector<int> levels;
  for (int32_t c : parse_ids(o.concurrency)) {
    if (c < 1 || c > 1024) fail("--concurrency: each level must be 1..1024, got ", c);
    levels.push_back(c);
  }
  if (levels.empty()) fail("--concurrency: no levels in \"", o.concurrency, "\"");
  if (o.prompt_tokens < 1) fail("--prompt-tokens: must be at least 1, got ", o.prompt_tokens);
  if (o.max_tokens < 1) fail("--max-tokens: must be at least 1, got ", o.max_tokens);
  if (o.requests < 0) fail("--requests: must be >= 0, got ", o.requests);

  std::optional<ServerProcess> server;
  std::string url = o.url;
  if (!o.spawn_model.empty()) {
    const int max_c = *std::max_element(levels.begin(), levels.end());
    std::vector<std::string> args = {"-m", o.spawn_model, "--parallel", std::to_string(max_c),
                                     "--max-queue", std::to_string(std::max(64, 4 * max_c))};
    if (o.serve_threads > 0) args.insert(args.end(), {"--threads", std::to_string(o.serve_threads)});
    if (o.serve_ctx_size > 0) args.insert(args.end(), {"--ctx-size", std::to_string(o.serve_ctx_size)});
    if (!o.api_key.empty()) args.insert(args.end(), {"--api-key", o.api_key});
    std::fprintf(stderr, "bench-serve: starting whale serve -m %s --parallel %d\n", o.spawn_model.c_str(), max_c);
    server.emplace(args, o.startup_timeout_s);
    url = server->url();
  }
  const ApiEndpoint ep = parse_api_url(url);
  wait_healthy(ep, o.api_key, o.startup_timeout_s);

  const uint64_t seed =
      o.seed ? o.seed : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const int words = o.no_calibrate ? o.prompt_tokens : calibrate_words(o, ep, seed);
  // Warm-up requests page the weights in and fill lazy tables; they are not measured.
  for (int w = 0; w < o.warmup; ++w) {
    auto client = make_client(ep, o.timeout_s);
    const auto res = stream_chat(*client, ep.chat_path, o.api_key,
                                 request_body(o, make_prompt(o, seed ^ 0xA5A5u, words, 0, w), std::min(o.max_tokens, 4)));
    if (!res.error.empty()) fail("warm-up request to ", ep.origin, ep.chat_path, " failed: ", res.error);
  }

  std::vector<LevelReport> reports;
  for (int c : levels) {
    const int n = o.requests > 0 ? o.requests : 2 * c;
    std::fprintf(stderr, "bench-serve: %d concurrent streams, %d requests...\n", c, n);
    double ramp = o.ramp_up_s;
    if (ramp < 0) {
      ramp = 0;
      for (const auto& r : reports)
        if (r.concurrency == 1 && r.ok() > 0) ramp = r.wall_s / r.requests;
    }
    if (c > 1 && ramp > 0) std::fprintf(stderr, "bench-serve:   streams start over %.1f s\n", ramp);
    reports.push_back(run_level(o, ep, seed, words, c, n, c > 1 ? ramp : 0));
    const auto& r = reports.back();
    std::fprintf(stderr, "bench-serve:   %.2f tok/s, TTFT p50 %.0f ms, %d errors\n", r.decode_tok_s(),
                 r.ttft_p50 * 1000, r.errors);
  }
  if (server) server->stop();

  if (o.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : reports) out.push_back(level_json(r));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_table(o, url, reports);
  }
  std::fflush(stdout);
  // Failed requests make the run fail (exit 1) so scripts notice, after the report is out.
  int errors = 0, total = 0;
  std::string first;
  for (const auto& r : reports) {
    errors += r.errors;
    total += r.requests;
    if (first.empty()) first = r.first_error;
  }
  if (errors) fail(errors, " of ", total, " requests failed (first: ", first, ")");
}

}  // namespace

void add_bench_serve_command(CLI::App& app) {
  auto o = std::make_shared<BenchServeOptions>();
  auto* cmd = app.add_subcommand(
      "bench-serve", "Load-test an API server: throughput, time to first token and inter-token latency per concurrency");
  cmd->add_option("--url", o->url, "server address (scheme://host:port[/base])")->capture_default_str();
  cmd->add_option("--concurrency", o->concurrency, "concurrent streams per level, e.g. 1,4,8,16")->capture_default_str();
  cmd->add_option("--requests", o->requests, "requests per level (0: twice the concurrency)");
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "approximate prompt length in tokens (as usage counts them)")->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens, "max_tokens of each request")->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "API key (sent as Bearer; also given to a spawned server)");
  cmd->add_option("--model", o->model, "model name in the requests")->capture_default_str();
  cmd->add_flag("--json", o->json, "print a JSON array, one object per level");
  cmd->add_flag("--shared-prefix", o->shared_prefix, "all prompts share their body (measures prefix-cache hits)");
  cmd->add_flag("--no-calibrate", o->no_calibrate, "send --prompt-tokens words without measuring tokens per word");
  cmd->add_option("--warmup", o->warmup, "unmeasured requests before the first level")->capture_default_str();
  cmd->add_option("--seed", o->seed, "prompt seed (0: from the clock)");
  cmd->add_option("--ramp-up", o->ramp_up_s,
                  "seconds over which a level's streams start (negative: the mean request time at concurrency 1, "
                  "i.e. phased as in a steady state; 0: all at once)")->capture_default_str();
  cmd->add_option("--timeout", o->timeout_s, "seconds one request may take")->capture_default_str();
  cmd->add_option("--spawn-model", o->spawn_model,
                  "start `whale serve -m FILE` on a free port (--parallel = max concurrency), run, stop it");
  cmd->add_option("--serve-threads", o->serve_threads, "with --spawn-model: the server's --threads");
  cmd->add_option("--serve-ctx-size", o->serve_ctx_size, "with --spawn-model: the server's --ctx-size");
  cmd->add_option("--startup-timeout", o->startup_timeout_s, "seconds to wait for the server to become healthy");
  cmd->callback([o] { bench_serve(*o); });
}

}  // namespace whale::cli
