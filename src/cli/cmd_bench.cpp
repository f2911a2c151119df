// whale bench: prompt-processing and decoding throughput of a model file, set against the
// memory-bandwidth roofline measured in the same run.
//
// Decoding one token must read every active weight once, so decode speed is bounded by
// bandwidth / active_weight_bytes. The bandwidth is measured here (a timed multi-threaded read
// of a buffer far larger than the caches, on the same pool the model uses) so the "% of
// roofline" compares two numbers taken on the same machine under the same load.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/single_sequence.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/thread_pool.h"

namespace whale::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds (user + system) this process has used so far, all threads.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + 1e-6 * static_cast<double>(tv.tv_usec); };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Sums 64-bit words with eight independent accumulators so the loop is limited by loads, not
// by one add chain; the result is returned so the reads cannot be optimised away.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (uint64_t x : a) s += x;
  return s;
}

// Best read bandwidth in GB/s over timed parallel reads of [data, data + bytes): at least
// kMinPasses passes and kMinSeconds in all. On a VM the first passes over memory the guest just
// handed out can run at half speed (the host backs it lazily), so a few quick passes understate
// the machine; the best of many is its bandwidth.
double best_read_bandwidth(ThreadPool& pool, const uint8_t* data, size_t bytes) {
  constexpr int kMinPasses = 10;
  constexpr double kMinSeconds = 1.5;
  const size_t words = bytes / sizeof(uint64_t);
  const auto* w = reinterpret_cast<const uint64_t*>(data);
  const int64_t chunks = int64_t{pool.size()} * 16;
  const size_t per = (words + chunks - 1) / chunks;
  std::vector<uint64_t> sink(static_cast<size_t>(chunks));
  double best = 0;
  const auto start = Clock::now();
  for (int r = 0; r < kMinPasses || seconds_since(start) < kMinSeconds; ++r) {
    const auto t0 = Clock::now();
    pool.run(chunks, [&](int64_t c, int) {
      const size_t b = std::min(words, c * per), e = std::min(words, b + per);
      sink[static_cast<size_t>(c)] += sum_words(w + b, e - b);
    });
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / seconds_since(t0) / 1e9);
  }
  uint64_t s = 0;
  for (uint64_t x : sink) s ^= x;
  if (s == 42) std::fprintf(stderr, " ");  // keeps `sink` observable
  return best;
}

// Bandwidth of a fresh buffer of `bytes`, written first so every page is resident (a first-touch
// page fault is not a memory read) and freed before the model's weights are touched, so it does
// not count in the RSS.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes) {
  const size_t words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[words]);
  const int64_t chunks = int64_t{pool.size()} * 16;
  const size_t per = (words + chunks - 1) / chunks;
  pool.run(chunks, [&](int64_t c, int) {
    const size_t b = std::min(words, c * per), e = std::min(words, b + per);
    for (size_t i = b; i < e; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  });
  return best_read_bandwidth(pool, reinterpret_cast<const uint8_t*>(buf.get()), words * sizeof(uint64_t));
}

// Bandwidth of reading the model file's own mapped bytes (up to `bytes` from its middle, where
// the expert weights are): the memory decode actually streams, with the page sizes the page
// cache gave it. 0 when the model is not a single file.
double measure_mapped_bandwidth(ThreadPool& pool, const std::string& path, size_t bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return 0.0;
  const MappedFile file(path);
  if (file.size() < 2 * sizeof(uint64_t)) return 0.0;
  const size_t n = std::min(bytes, file.size() / 2) & ~size_t{4095};
  const size_t offset = (file.size() / 2 - n / 2) & ~size_t{4095};
  return best_read_bandwidth(pool, file.data() + offset, n);
}

// Resident memory from /proc/self/status in bytes: total, file-backed (the mmap'd weights),
// anonymous (everything we allocated). Zeros where the file is unavailable.
struct Rss {
  uint64_t total = 0, file = 0, anon = 0;
};

Rss read_rss() {
  Rss r;
  std::ifstream in("/proc/self/status");
  std::string line;
  auto kb = [](const std::string& l) {
    return static_cast<uint64_t>(std::strtoull(l.c_str() + l.find(':') + 1, nullptr, 10)) * 1024;
  };
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.total = kb(line);
    else if (line.rfind("RssFile:", 0) == 0) r.file = kb(line);
    else if (line.rfind("RssAnon:", 0) == 0) r.anon = kb(line);
  }
  return r;
}

std::vector<int64_t> parse_depths(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || v < 0) fail("--ctx: '", item, "' is not a non-negative token count");
    out.push_back(v);
  }
  if (out.empty()) fail("--ctx: no depths given in '", text, "'");
  return out;
}

// Deterministic pseudo-random token ids: the speed of a forward pass does not depend on which
// tokens it sees, except through expert routing, which random ids spread like real text does.
struct TokenStream {
  uint64_t state = 0x2545F4914F6CDD1Dull;
  int64_t vocab;
  explicit TokenStream(int64_t v) : vocab(v) {}
  int32_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(vocab));
  }
  std::vector<int32_t> take(int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& t : v) t = next();
    return v;
  }
};

struct DepthResult {
  int64_t depth = 0;
  std::vector<double> tg;  // tok/s per repetition
};

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.3f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f KB", b / 1e3);
  return buf;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Opts {
    std::string model, ctx = "0", kv = "auto";
    int64_t p = 512, n = 128;
    int threads = 0, reps = 3;
    double bw_gb = 1.0;
    double price = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Prompt and decode throughput against the measured memory-bandwidth roofline");
  cmd->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder")->required();
  cmd->add_option("-p,--prompt", o->p, "prompt tokens per prompt-processing run (0: skip)")->capture_default_str();
  cmd->add_option("-n,--gen", o->n, "decoded tokens per decode run (0: skip)")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_option("-r,--reps", o->reps, "repetitions; medians are reported")->capture_default_str();
  cmd->add_option("--ctx", o->ctx, "context depths for decoding, e.g. 0,4096 (that many tokens are prefilled, untimed, first)")
      ->capture_default_str();
  cmd->add_option("--kv-type", o->kv, "KV cache type: auto (the model's preferred: bf16 where attention runs on AMX tiles, else f16) | f16 | bf16 | q8_0 | f32")->capture_default_str();
  cmd->add_option("--bw-gb", o->bw_gb, "size of the bandwidth-test buffer in GB (0: skip)")->capture_default_str();
  cmd->add_option("--price-per-hour", o->price, "machine price in USD per hour: prints cost per million tokens");
  cmd->add_flag("--json", o->json, "print one JSON object instead of text");
  cmd->callback([o] {
    if (o->reps < 1) fail("-r: repetitions must be at least 1, got ", o->reps);
    if (o->p < 0 || o->n < 0) fail("-p/-n: token counts must be non-negative (", o->p, ", ", o->n, ")");
    const std::optional<model::KvType> kv_asked = parse_kv_choice(o->kv);
    const std::vector<int64_t> depths = parse_depths(o->ctx);
    ThreadPool pool(o->threads);
    auto log = [&](const char* msg) {
      if (!o->json) std::fprintf(stderr, "%s", msg);
    };

    // Load (map) first so a bad path fails at once; the weights are only touched in the warm-up,
    // after the bandwidth test has freed its buffer.
    auto model = model::load_model(o->model, pool, {.progress = !o->json});
    if (o->bw_gb > 0) log("measuring read bandwidth...\n");
    const size_t bw_bytes = static_cast<size_t>(std::max(0.0, o->bw_gb) * 1e9);
    const double bw_buffer = bw_bytes > 0 ? measure_read_bandwidth(pool, bw_bytes) : 0.0;
    const model::ModelInfo& info = model->info();
    constexpr int64_t kWarmupTokens = 64;
    const int64_t ctx_needed = std::max({o->p, kWarmupTokens}) + 1;  // the depths have their own
    const model::KvType kv_type = kv_asked.value_or(info.preferred_kv);
    const std::string kv_name(model::kv_type_name(kv_type));
    model::SingleSequence seq(*model, ctx_needed, kv_type);
    TokenStream ts(info.vocab_size);

    // Warm-up (untimed): touches the mapped weights (a prompt routes to nearly every expert) so
    // the first timed run does not pay for page faults.
    log("warming up...\n");
    seq.prompt(ts.take(kWarmupTokens));
    seq.reset();
    // The roofline uses the better of the two measurements: the machine can stream at least that.
    const double bw_weights = bw_bytes > 0 ? measure_mapped_bandwidth(pool, o->model, bw_bytes) : 0.0;
    const double bw = std::max(bw_buffer, bw_weights);

    // Share of the pool's cores the timed sections actually got: below ~95 % another process
    // was competing for the CPU and the numbers understate the machine.
    double timed_wall = 0, timed_cpu = 0;
    std::vector<double> pp;
    for (int r = 0; r < o->reps && o->p > 0; ++r) {
      const auto toks = ts.take(o->p);
      seq.reset();
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      seq.prompt(toks);
      const double wall = seconds_since(t0);
      timed_wall += wall, timed_cpu += cpu_seconds() - c0;
      pp.push_back(static_cast<double>(o->p) / wall);
      if (!o->json) std::fprintf(stderr, "  pp%lld run %d: %.2f tok/s\n", static_cast<long long>(o->p), r + 1, pp.back());
    }

    // Every depth gets its own sequence, prefilled once (untimed); then the repetitions take
    // the depths in turn, so a drift of the host's speed over the minutes this takes (shared
    // machines drift by tens of percent) falls on every depth alike and their ratio holds.
    std::vector<DepthResult> tg;
    std::vector<std::unique_ptr<model::SingleSequence>> at_depth;
    for (int64_t d : depths) {
      if (o->n == 0) break;
      tg.push_back({d, {}});
      at_depth.push_back(std::make_unique<model::SingleSequence>(*model, d + o->n + 1, kv_type));
      if (d > 0) {
        if (!o->json) std::fprintf(stderr, "  prefilling %lld tokens...\n", static_cast<long long>(d));
        at_depth.back()->prompt(ts.take(d));
      }
    }
    for (int r = 0; r < o->reps; ++r)
      for (size_t k = 0; k < tg.size(); ++k) {
        model::SingleSequence& s = *at_depth[k];
        const int64_t d = tg[k].depth;
        // Every repetition continues from the same prefilled depth: the KV rows past it are
        // simply overwritten.
        s.rewind(s.n_past() - static_cast<int32_t>(d));
        const auto toks = ts.take(o->n);
        const auto t0 = Clock::now();
        const double c0 = cpu_seconds();
        for (int64_t i = 0; i < o->n; ++i) s.eval({&toks[static_cast<size_t>(i)], 1});
        const double wall = seconds_since(t0);
        timed_wall += wall, timed_cpu += cpu_seconds() - c0;
        tg[k].tg.push_back(static_cast<double>(o->n) / wall);
        if (!o->json)
          std::fprintf(stderr, "  tg%lld @ depth %lld run %d: %.2f tok/s\n", static_cast<long long>(o->n),
                       static_cast<long long>(d), r + 1, tg[k].tg.back());
      }
    const Rss rss = read_rss();
    // All KV pools held during the timed runs: the prompt sequence's and one per depth.
    uint64_t kv_pool_bytes = seq.kv().total_bytes();
    int64_t kv_pool_tokens = ctx_needed;
    for (size_t k = 0; k < at_depth.size(); ++k) {
      kv_pool_bytes += at_depth[k]->kv().total_bytes();
      kv_pool_tokens += tg[k].depth + o->n + 1;
    }
    const double cpu_share = timed_wall > 0 ? 100.0 * timed_cpu / (timed_wall * pool.size()) : 0.0;
    double load1 = 0;
    if (std::ifstream la("/proc/loadavg"); la) la >> load1;

    const double wbytes = static_cast<double>(info.active_weight_bytes);
    const double kv_per_token = static_cast<double>(seq.kv().bytes_per_token());
    const Stats pps = stats_of(pp);
    const Stats tg0 = tg.empty() ? Stats{} : stats_of(tg.front().tg);
    const double roofline = bw > 0 && wbytes > 0 ? bw * 1e9 / wbytes : 0.0;
    const double roofline_pct = roofline > 0 ? 100.0 * tg0.median / roofline : 0.0;
    auto cost = [&](double tok_s) { return tok_s > 0 ? o->price / (3600.0 * tok_s) * 1e6 : 0.0; };

    if (o->json) {
      nlohmann::json j;
      j["model"] = o->model;
      j["description"] = info.description;
      j["threads"] = pool.size();
      j["kernels"] = kernels::kernel_set_name();
      j["kv_type"] = kv_name;
      j["n_prompt"] = o->p;
      j["n_gen"] = o->n;
      j["reps"] = o->reps;
      j["pp_tok_s"] = pps.median;
      j["pp_tok_s_min"] = pps.min;
      j["pp_tok_s_max"] = pps.max;
      j["tg_tok_s"] = tg0.median;
      j["tg_tok_s_min"] = tg0.min;
      j["tg_tok_s_max"] = tg0.max;
      j["bandwidth_gb_s"] = bw;
      j["bandwidth_buffer_gb_s"] = bw_buffer;
      j["bandwidth_weights_gb_s"] = bw_weights;
      j["weight_bytes_per_token"] = info.active_weight_bytes;
      j["weight_bytes_total"] = info.weight_bytes;
      j["roofline_tok_s"] = roofline;
      j["roofline_pct"] = roofline_pct;
      j["kv_bytes_per_token"] = seq.kv().bytes_per_token();
      j["rss_bytes"] = rss.total;
      j["rss_file_bytes"] = rss.file;
      j["rss_anon_bytes"] = rss.anon;
      j["kv_pool_bytes"] = kv_pool_bytes;
      nlohmann::json depths_j = nlohmann::json::array();
      for (const auto& dr : tg) {
        const Stats s = stats_of(dr.tg);
        // At depth d each decoded token also reads about d KV rows.
        const double bytes = wbytes + kv_per_token * (static_cast<double>(dr.depth) + 0.5 * static_cast<double>(o->n));
        depths_j.push_back({{"depth", dr.depth}, {"tg_tok_s", s.median}, {"tg_tok_s_min", s.min},
                            {"tg_tok_s_max", s.max}, {"runs", dr.tg},
                            {"roofline_pct", bw > 0 ? 100.0 * s.median * bytes / (bw * 1e9) : 0.0}});
      }
      j["tg_by_depth"] = depths_j;
      j["pp_runs"] = pp;
      j["cpu_share_pct"] = cpu_share;
      j["load_average_1m"] = load1;
      if (o->price > 0) {
        j["price_per_hour"] = o->price;
        j["usd_per_million_input_tokens"] = cost(pps.median);
        j["usd_per_million_output_tokens"] = cost(tg0.median);
      }
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }

    std::printf("model        %s\n             %s\n", o->model.c_str(), info.description.c_str());
    std::printf("threads      %d, KV cache %s, %d repetitions\n", pool.size(), kv_name.c_str(), o->reps);
    std::printf("kernels      %s%s\n", kernels::kernel_set_name(),
                kernels::prompt_tile_products() ? " (prompt tokens: AMX bf16 tile products)" : "");
    if (!pp.empty())
      std::printf("prompt       pp%lld: %.2f tok/s median (min %.2f, max %.2f)\n", static_cast<long long>(o->p),
                  pps.median, pps.min, pps.max);
    for (const auto& dr : tg) {
      const Stats s = stats_of(dr.tg);
      std::printf("decode       tg%lld @ depth %lld: %.2f tok/s median (min %.2f, max %.2f)", static_cast<long long>(o->n),
                  static_cast<long long>(dr.depth), s.median, s.min, s.max);
      if (dr.depth != tg.front().depth && tg0.median > 0)
        std::printf(", %.1f%% of depth %lld", 100.0 * s.median / tg0.median, static_cast<long long>(tg.front().depth));
      std::printf("\n");
    }
    std::printf("weights      %s read per decoded token (%s in the file)\n", human_bytes(wbytes).c_str(),
                human_bytes(static_cast<double>(info.weight_bytes)).c_str());
    if (bw > 0) {
      std::printf("bandwidth    %.2f GB/s measured: best read of a %.1f GB buffer %.2f GB/s, of %.1f GB of the mapped "
                  "weights %.2f GB/s\n", bw, o->bw_gb, bw_buffer, o->bw_gb, bw_weights);
      std::printf("roofline     %.2f tok/s; decode at depth %lld is %.1f%% of it\n", roofline,
                  static_cast<long long>(tg.empty() ? 0 : tg.front().depth), roofline_pct);
    }
    std::printf("KV cache     %s per token (%s pool for %lld tokens)\n", human_bytes(kv_per_token).c_str(),
                human_bytes(static_cast<double>(kv_pool_bytes)).c_str(), static_cast<long long>(kv_pool_tokens));
    std::printf("memory       RSS %s: %s file-backed (weights), %s anonymous (KV pool and scratch)\n",
                human_bytes(static_cast<double>(rss.total)).c_str(), human_bytes(static_cast<double>(rss.file)).c_str(),
                human_bytes(static_cast<double>(rss.anon)).c_str());
    std::printf("machine      load average %.2f at the end; the timed runs got %.0f%% of %d cores\n", load1, cpu_share,
                pool.size());
    if (o->price > 0)
      std::printf("cost         $%.4f per million input tokens, $%.4f per million output tokens (at $%.3f/hour)\n",
                  cost(pps.median), cost(tg0.median), o->price);
  });
}

}  // namespace whale::cli
