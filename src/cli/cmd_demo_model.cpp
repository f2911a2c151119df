// whale demo-model: write the built-in demo model to a file.
#include <cstdio>

#include "cli/commands.h"
#include "model/synthetic.h"

namespace whale::cli {

void add_demo_model_command(CLI::App& app) {
  struct Opts {
    std::string out;
    bool thinking = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "demo-model",
      "Write the built-in demo model: a small deepseek2 with random weights, DeepSeek-V3's special tokens and chat "
      "format. Its output is gibberish by design.");
  cmd->add_option("-o,--output", o->out, "output .gguf file")->required();
  cmd->add_flag("--thinking", o->thinking, "use an R1-style template whose answers start inside <think>");
  cmd->callback([o] {
    model::SynthOptions so;
    so.shape = model::synth_shape("demo");
    so.mix = model::SynthMix::kF16;
    so.seed = 20240101;
    so.chat_template = model::demo_chat_template(o->thinking);
    const uint64_t bytes = model::write_synthetic_model(so, o->out);
    std::printf("wrote %s (%.1f MB): demo model, random weights, output is gibberish\n", o->out.c_str(), bytes / 1e6);
  });
}

}  // namespace whale::cli
