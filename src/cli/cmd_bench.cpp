#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "(not implemented yet)");
  cmd->callback([] { fail("whale bench: not implemented yet"); });
}

}  // namespace whale::cli
