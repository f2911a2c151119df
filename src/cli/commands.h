// Each subcommand of the `whale` binary lives in its own cmd_<name>.cpp and registers itself on
// the CLI11 app through one of these functions (called from main.cpp, in help order).
#pragma once
#include <CLI/CLI.hpp>

namespace whale::cli {

void add_info_command(CLI::App& app);        // cmd_info.cpp: describe a model file
void add_logits_command(CLI::App& app);      // cmd_logits.cpp: logits for token ids as JSON
void add_run_command(CLI::App& app);         // cmd_run.cpp: generate / interactive chat
void add_tokenize_command(CLI::App& app);    // cmd_tokenize.cpp: tokenize and detokenize
void add_serve_command(CLI::App& app);       // cmd_serve.cpp: the HTTP API server
void add_bench_command(CLI::App& app);       // cmd_bench.cpp: prompt/decode throughput
void add_synth_command(CLI::App& app);       // cmd_synth.cpp: random-weight benchmark models
void add_demo_model_command(CLI::App& app);  // cmd_demo_model.cpp: the built-in demo model
void add_cache_command(CLI::App& app);       // cmd_cache.cpp: prompt-cache maintenance
void add_bench_serve_command(CLI::App& app);  // cmd_bench_serve.cpp: load generator for the API server

}  // namespace whale::cli
