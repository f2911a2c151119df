#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "(not implemented yet)");
  cmd->callback([] { fail("whale serve: not implemented yet"); });
}

}  // namespace whale::cli
