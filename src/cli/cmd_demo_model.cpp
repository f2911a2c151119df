#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_demo_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo-model", "(not implemented yet)");
  cmd->callback([] { fail("whale demo-model: not implemented yet"); });
}

}  // namespace whale::cli
