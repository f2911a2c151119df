#include "cli/commands.h"
#include "util/error.h"

namespace whale::cli {

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "(not implemented yet)");
  cmd->callback([] { fail("whale tokenize: not implemented yet"); });
}

}  // namespace whale::cli
