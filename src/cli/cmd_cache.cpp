#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_cache_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("cache", "(not implemented yet)");
  cmd->callback([] { fail("whale cache: not implemented yet"); });
}

}  // namespace whale::cli
