// whale: run DeepSeek-family models on your own hardware. One binary, one subcommand per file.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"whale: DeepSeek-family inference engine and API server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "whale 0.1.0");
  whale::cli::add_info_command(app);
  whale::cli::add_logits_command(app);
  whale::cli::add_run_command(app);
  whale::cli::add_tokenize_command(app);
  whale::cli::add_serve_command(app);
  whale::cli::add_bench_command(app);
  whale::cli::add_synth_command(app);
  whale::cli::add_demo_model_command(app);
  whale::cli::add_cache_command(app);
  whale::cli::add_bench_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const whale::Error& e) {
    std::fprintf(stderr, "whale: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "whale: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
