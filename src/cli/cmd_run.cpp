#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "(not implemented yet)");
  cmd->callback([] { fail("whale run: not implemented yet"); });
}

}  // namespace whale::cli
