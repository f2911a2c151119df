// whale synth: write a random-weight deepseek2 GGUF for benchmarks.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "model/synthetic.h"

namespace whale::cli {

void add_synth_command(CLI::App& app) {
  struct Opts {
    std::string shape = "v2-lite", mix = "q4_k_m", out;
    int layers = 0;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("synth", "Write a random-weight deepseek2 model (output is gibberish; for benchmarks)");
  cmd->add_option("--shape", o->shape, "v2-lite | v3 | tiny-v3 | v2-lite-tiny | v2-tiny | demo")->capture_default_str();
  cmd->add_option("--mix", o->mix, "q4_k_m | q8_0 | f16 | f32")->capture_default_str();
  cmd->add_option("--layers", o->layers, "override the layer count (keeps the dense/MoE split)");
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str();
  cmd->add_option("-o,--output", o->out, "output .gguf file")->required();
  cmd->callback([o] {
    model::SynthOptions so;
    so.shape = model::synth_shape(o->shape);
    if (o->layers > 0) {
      so.shape.layers = o->layers;
      if (so.shape.dense_layers > o->layers) so.shape.dense_layers = o->layers;
    }
    so.mix = model::synth_mix(o->mix);
    so.seed = o->seed;
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t bytes = model::write_synthetic_model(so, o->out);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s: %s shape, %s mix, %.2f GB in %.1f s (random weights: output is gibberish)\n",
                o->out.c_str(), o->shape.c_str(), o->mix.c_str(), bytes / 1e9, s);
  });
}

}  // namespace whale::cli
