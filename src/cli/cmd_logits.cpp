#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_logits_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "(not implemented yet)");
  cmd->callback([] { fail("whale logits: not implemented yet"); });
}

}  // namespace whale::cli
