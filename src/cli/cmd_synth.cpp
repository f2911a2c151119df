#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "(not implemented yet)");
  cmd->callback([] { fail("whale synth: not implemented yet"); });
}

}  // namespace whale::cli
