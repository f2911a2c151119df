// whale cache: the prompt cache's disk folder for operators (stats, clear) and its benchmark.
//
//   whale cache stats [--cache-dir DIR] [--verify] [--json]
//   whale cache clear [--cache-dir DIR]
//   whale cache bench -m MODEL [--prompt-tokens 4096]    time to first token: cold, RAM hit,
//                                                        disk hit after a restart
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "cli/cli_util.h"
#include "cli/byte_size.h"
#include "cli/commands.h"
#include "engine/disk_cache.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/model_identity.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace whale::cli {
namespace {
namespace fs = std::filesystem;

fs::path cache_dir_or_default(const std::string& dir) {
  if (!dir.empty()) return dir;
  fs::path d = engine::default_cache_dir();
  if (d.empty()) fail("whale cache: no --cache-dir given and neither XDG_CACHE_HOME nor HOME is set");
  return d;
}

std::string local_time(fs::file_time_type t) {
  const auto sys = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      t - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
  const std::time_t tt = std::chrono::system_clock::to_time_t(sys);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

void add_stats(CLI::App& parent) {
  struct Opts {
    std::string dir;
    bool verify = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = parent.add_subcommand("stats", "Entries and bytes in the prompt-cache folder, per model");
  cmd->add_option("--cache-dir", o->dir, "cache folder (default: the user's cache folder)/prompt-cache");
  cmd->add_flag("--verify", o->verify, "check every entry fully (reads every byte)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] {
    const fs::path dir = cache_dir_or_default(o->dir);
    const auto s = engine::summarize_cache_folder(dir, o->verify);
    if (o->json) {
      nlohmann::ordered_json j;
      j["cache_dir"] = dir.string();
      j["entries"] = s.entries;
      j["bytes"] = s.bytes;
      j["temp_files"] = s.temp_files;
      j["models"] = nlohmann::ordered_json::array();
      for (const auto& m : s.models) {
        nlohmann::ordered_json e{{"key", m.key}, {"entries", m.entries}, {"bytes", m.bytes},
                                 {"tokens", m.entries * 64}};
        if (o->verify) e["bad_entries"] = m.bad;
        j["models"].push_back(e);
      }
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("cache folder: %s\n", dir.string().c_str());
    std::printf("entries: %lld (%lld tokens), %s\n", static_cast<long long>(s.entries),
                static_cast<long long>(s.entries * 64), format_byte_size(s.bytes).c_str());
    if (s.temp_files) std::printf("temporary files: %lld\n", static_cast<long long>(s.temp_files));
    for (const auto& m : s.models) {
      std::printf("  model %s: %lld entries, %s, used %s .. %s", m.key.c_str(),
                  static_cast<long long>(m.entries), format_byte_size(m.bytes).c_str(),
                  m.entries ? local_time(m.oldest).c_str() : "-", m.entries ? local_time(m.newest).c_str() : "-");
      if (o->verify) std::printf(", %lld bad", static_cast<long long>(m.bad));
      std::printf("\n");
    }
  });
}

void add_clear(CLI::App& parent) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand("clear", "Delete every prompt-cache entry in the folder");
  cmd->add_option("--cache-dir", *dir, "cache folder (default: the user's cache folder)/prompt-cache");
  cmd->callback([dir] {
    const fs::path d = cache_dir_or_default(*dir);
    const int64_t n = engine::clear_cache_folder(d);
    std::printf("deleted %lld files from %s\n", static_cast<long long>(n), d.string().c_str());
  });
}

// Time to first token of one request with a single new token to generate.
double ttft_ms(engine::Engine& e, const std::vector<int32_t>& prompt, int32_t* cached) {
  engine::GenerateRequest r;
  r.prompt = prompt;
  r.sampling.temperature = 0;
  r.max_tokens = 1;
  r.stop_at_eog = false;
  auto s = e.submit(r);
  std::vector<engine::TokenEvent> ev;
  while (s->next(ev, std::chrono::milliseconds(100))) {
  }
  if (s->finish_reason() == engine::FinishReason::kError) fail("whale cache bench: ", s->error());
  const engine::Usage u = s->usage();
  *cached = u.cached_prompt_tokens;
  return u.time_to_first_token_ms;
}

void add_bench(CLI::App& parent) {
  struct Opts {
    std::string model, dir, kv = "auto";
    int tokens = 4096, threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = parent.add_subcommand(
      "bench", "Time to first token of one long prompt: cold, RAM cache hit, disk cache hit after a restart");
  cmd->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder")->required();
  cmd->add_option("-p,--prompt-tokens", o->tokens, "prompt length in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_option("--kv-type", o->kv, "KV cache type: auto | f16 | bf16 | q8_0 | f32")->capture_default_str();
  cmd->add_option("--cache-dir", o->dir,
                  "where the temporary cache folder goes (default: the system temp folder); it is deleted after");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] {
    if (o->tokens < 65) fail("--prompt-tokens: at least 65 tokens (one cached block plus one), got ", o->tokens);
    ThreadPool pool(o->threads);
    auto m = model::load_model(o->model, pool, {.progress = !o->json});
    const fs::path base = o->dir.empty() ? fs::temp_directory_path() : fs::path(o->dir);
    const fs::path dir = base / ("whale-cache-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } cleanup{dir};

    // A fixed pseudo-random prompt: ids from the whole vocabulary (the cache does not care
    // what they mean).
    std::mt19937 rng(4096);
    std::vector<int32_t> prompt(static_cast<size_t>(o->tokens));
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(m->info().vocab_size));

    engine::EngineOptions eo;
    eo.max_parallel = 1;
    eo.ctx_size = o->tokens + 8;
    eo.kv_type = parse_kv_choice(o->kv);
    const std::string kv_name(model::kv_type_name(eo.kv_type.value_or(m->info().preferred_kv)));
    const int64_t per_token = static_cast<int64_t>(m->info().kv_layout.n_layers) *
                              m->info().kv_layout.values_per_token * 4;
    eo.cache_ram_bytes = std::max<int64_t>(eo.cache_ram_bytes, 2 * per_token * eo.ctx_size);
    eo.cache_dir = dir;
    eo.cache_disk_bytes = int64_t{1} << 40;
    eo.model_identity = model::model_identity(o->model);
    auto say = [&](const char* what) {
      if (!o->json) std::fprintf(stderr, "%s\n", what);
    };

    int32_t hit_cold = 0, hit_ram = 0, hit_disk = 0;
    double cold = 0, ram = 0, disk = 0, write_s = 0;
    {
      auto e = engine::make_engine(*m, std::vector<int32_t>{}, eo);
      say("cold...");
      cold = ttft_ms(*e, prompt, &hit_cold);
      say("RAM hit...");
      ram = ttft_ms(*e, prompt, &hit_ram);
      const auto t0 = std::chrono::steady_clock::now();
      e.reset();  // "restart": finishes the disk writes
      write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    engine::EngineStats ds;
    {
      say("disk hit after restart...");
      auto e = engine::make_engine(*m, std::vector<int32_t>{}, eo);
      disk = ttft_ms(*e, prompt, &hit_disk);
      ds = e->stats();
    }
    if (o->json) {
      nlohmann::ordered_json j{{"model", m->info().name},
                               {"prompt_tokens", o->tokens},
                               {"kv_type", kv_name},
                               {"ttft_cold_ms", cold},
                               {"ttft_ram_hit_ms", ram},
                               {"ttft_disk_hit_ms", disk},
                               {"ram_hit_ratio_of_cold", ram / cold},
                               {"disk_hit_ratio_of_cold", disk / cold},
                               {"cached_tokens_ram", hit_ram},
                               {"cached_tokens_disk", hit_disk},
                               {"disk_bytes", ds.cache_disk_bytes},
                               {"shutdown_flush_s", write_s}};
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("model %s, %d-token prompt, KV %s\n", m->info().name.c_str(), o->tokens, kv_name.c_str());
    std::printf("  cold                  TTFT %10.1f ms  (cached %d)\n", cold, hit_cold);
    std::printf("  RAM hit               TTFT %10.1f ms  (cached %d) = %5.2f %% of cold (target <= 5 %%)\n",
                ram, hit_ram, 100 * ram / cold);
    std::printf("  disk hit after restart TTFT %9.1f ms  (cached %d) = %5.2f %% of cold (target <= 15 %%)\n",
                disk, hit_disk, 100 * disk / cold);
    std::printf("  disk entries: %s; writes finished %.2f s after the last request\n",
                format_byte_size(ds.cache_disk_bytes).c_str(), write_s);
  });
}

}  // namespace

void add_cache_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("cache", "Prompt (context) cache: stats, clear, bench");
  cmd->require_subcommand(1);
  add_stats(*cmd);
  add_clear(*cmd);
  add_bench(*cmd);
}

}  // namespace whale::cli
