#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "(not implemented yet)");
  cmd->callback([] { fail("whale info: not implemented yet"); });
}

}  // namespace whale::cli
