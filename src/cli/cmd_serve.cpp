// whale serve: the DeepSeek/OpenAI-compatible HTTP API (spec api.md) over one model.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/disk_cache.h"
#include "cli/byte_size.h"
#include "server/http_server.h"
#include "server/real_backend.h"
#include "util/error.h"

namespace whale::cli {

namespace {

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;
  int parallel = 4;
  int step_tokens = 128;
  int ctx_size = 0;
  int threads = 0;
  std::vector<std::string> aliases;
  std::string compat = "e3";
  bool log_prompts = false;
  int max_queue = 64;
  std::string temperature_mapping = "deepseek";
  double keepalive_s = 10;
  double request_timeout_s = 1800;
  double shutdown_deadline_s = 10;
  double max_body_mb = 16;
  bool balance_stub = false;
  bool auth_ops = false;
  bool thinking_demo = false;
  bool cors = false;
  std::string cache_ram = "1G", cache_disk = "10G", cache_dir;
  bool no_disk_cache = false;
  std::string kv = "auto";
};

server::ApiConfig api_config(const ServeOptions& o) {
  server::ApiConfig api;
  if (o.compat == "e2") api.compat = server::Compat::kE2;
  else if (o.compat != "e3") fail("--compat: expected e3 or e2, got \"", o.compat, "\"");
  if (o.temperature_mapping == "identity") api.deepseek_temperature_mapping = false;
  else if (o.temperature_mapping != "deepseek")
    fail("--temperature-mapping: expected deepseek or identity, got \"", o.temperature_mapping, "\"");
  for (const auto& a : o.aliases) {
    // NAME serves like deepseek-chat; NAME=deepseek-reasoner serves in thinking mode.
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    bool thinking = false;
    if (eq != std::string::npos) {
      const std::string target = a.substr(eq + 1);
      if (target == "deepseek-reasoner") thinking = true;
      else if (target != "deepseek-chat")
        fail("--alias ", a, ": the target must be deepseek-chat or deepseek-reasoner");
    }
    if (name.empty()) fail("--alias ", a, ": empty name");
    if (!api.find_model(name)) api.models.push_back({name, thinking});
  }
  return api;
}

void serve(const ServeOptions& o) {
  // Signals are taken by a watcher thread (sigwait); block them before any thread starts so
  // every thread inherits the mask. A client vanishing must not kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::RealBackendOptions bo;
  bo.model_path = o.model.empty() ? demo_model_path(o.thinking_demo) : std::filesystem::path(o.model);
  bo.threads = o.threads;
  bo.engine.max_parallel = o.parallel;
  bo.engine.step_tokens = o.step_tokens;
  bo.engine.ctx_size = o.ctx_size;
  bo.engine.kv_type = parse_kv_choice(o.kv);
  bo.engine.max_queue = o.max_queue;
  bo.engine.cache_ram_bytes = parse_byte_size(o.cache_ram);
  bo.engine.cache_disk_bytes = parse_byte_size(o.cache_disk);
  bo.engine.disk_cache = !o.no_disk_cache;
  bo.engine.cache_dir = o.cache_dir.empty() ? engine::default_cache_dir() : std::filesystem::path(o.cache_dir);
  if (o.parallel < 1) fail("--parallel: must be at least 1, got ", o.parallel);
  if (o.step_tokens < 1) fail("--step-tokens: must be at least 1, got ", o.step_tokens);
  server::RealBackend backend(bo);

  server::ServerOptions so;
  so.host = o.host;
  so.port = o.port;
  so.api_keys = o.api_keys;
  so.auth_on_ops = o.auth_ops;
  so.api = api_config(o);
  so.log_prompts = o.log_prompts;
  so.balance_stub = o.balance_stub;
  so.max_body_bytes = static_cast<size_t>(o.max_body_mb * 1024 * 1024);
  so.keepalive_interval = std::chrono::milliseconds(static_cast<int64_t>(o.keepalive_s * 1000));
  so.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.request_timeout_s * 1000));
  so.cors = o.cors;
  so.http_threads = std::max(64, o.parallel * 4 + 16);
  server::HttpServer http(backend, so);
  const int port = http.bind();

  const auto deadline = std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_deadline_s * 1000));
  std::thread listener([&] { http.run(); });
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "whale serve: %s received, draining (deadline %.0f s)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", o.shutdown_deadline_s);
    http.shutdown(deadline);
  });
  auto stop_all = [&] {
    pthread_kill(watcher.native_handle(), SIGTERM);  // wakes sigwait: graceful path
    watcher.join();
    listener.join();
  };
  try {
    // The listener already answers (so clients can poll /health: 503 until ready).
    std::fprintf(stderr, "whale serve: bound http://%s:%d, loading %s\n", o.host.c_str(), port,
                 bo.model_path.string().c_str());
    backend.load();
  } catch (...) {
    stop_all();
    throw;
  }
  // The context the API enforces is the engine's.
  const std::string url = "http://" + o.host + ":" + std::to_string(port);
  std::printf("whale serve: listening on %s (model %s, context %d tokens, %d parallel)\n", url.c_str(),
              backend.info().model_name.c_str(), backend.info().n_ctx, o.parallel);
  std::printf("  try: curl %s/v1/chat/completions -H 'Content-Type: application/json'%s -d "
              "'{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n",
              url.c_str(), o.api_keys.empty() ? "" : " -H 'Authorization: Bearer $KEY'");
  std::fflush(stdout);
  listener.join();
  watcher.join();
  std::fprintf(stderr, "whale serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve the DeepSeek/OpenAI-compatible HTTP API (without -m: the built-in demo model)");
  cmd->add_option("-m,--model", o->model, "model: .gguf file or Hugging Face folder");
  cmd->add_option("--host", o->host, "address to bind (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o->port, "port (0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_keys, "accepted API key (repeatable; none: no auth)");
  cmd->add_option("--parallel", o->parallel, "sequences decoded together");
  cmd->add_option("--step-tokens", o->step_tokens,
                  "tokens one scheduler step computes: decode tokens first, then prompt chunks in arrival order")
      ->capture_default_str();
  cmd->add_option("--ctx-size", o->ctx_size, "tokens per sequence, prompt + completion (0: model's, at most 8192)");
  cmd->add_option("--threads", o->threads, "compute threads (0: one per hardware thread)");
  cmd->add_option("--alias", o->aliases, "extra served model name: NAME or NAME=deepseek-reasoner (repeatable)");
  cmd->add_option("--compat", o->compat, "hosted-API era to follow: e3 (default) or e2");
  cmd->add_flag("--log-prompts", o->log_prompts, "include prompt text in the request log");
  cmd->add_option("--max-queue", o->max_queue, "requests that may wait for a slot (beyond: 429)");
  cmd->add_option("--temperature-mapping", o->temperature_mapping, "deepseek (default) or identity");
  cmd->add_option("--keepalive", o->keepalive_s, "seconds of silence before a keep-alive is sent");
  cmd->add_option("--request-timeout", o->request_timeout_s, "seconds before a request is closed");
  cmd->add_option("--shutdown-deadline", o->shutdown_deadline_s,
                  "seconds running requests may finish after SIGINT/SIGTERM");
  cmd->add_option("--max-body-mb", o->max_body_mb, "largest request body in MiB (beyond: 413)");
  cmd->add_flag("--balance-stub", o->balance_stub, "serve GET /user/balance");
  cmd->add_flag("--auth-ops", o->auth_ops, "require the API key for /health and /metrics too");
  cmd->add_flag("--cors", o->cors,
                "allow cross-origin browser access (Access-Control-Allow-Origin: *, OPTIONS preflight)");
  cmd->add_option("--kv-type", o->kv,
                  "KV cache type: auto (bf16 where attention runs on AMX tiles, else f16) | f16 | bf16 | q8_0 | f32")
      ->capture_default_str();
  cmd->add_option("--cache-ram", o->cache_ram, "prompt cache in RAM, bytes (e.g. 512M, 2G; 0: off)")->capture_default_str();
  cmd->add_option("--cache-dir", o->cache_dir, "prompt cache folder on disk (default: ~/.cache/whale/prompt-cache)");
  cmd->add_option("--cache-disk", o->cache_disk, "prompt cache on disk, bytes")->capture_default_str();
  cmd->add_flag("--no-disk-cache", o->no_disk_cache, "keep the prompt cache in RAM only");
  cmd->add_flag("--thinking-demo", o->thinking_demo, "without -m: the R1-style demo model");
  cmd->callback([o] { serve(*o); });
}

}  // namespace whale::cli
