// Random-weight deepseek2 models for benchmarks and the built-in demo (`whale synth`,
// `whale demo-model`). Files use the standard tensor names and keys, so other GGUF runtimes load
// them too. Their output is gibberish by design: they exist to measure speed and to exercise
// every code path (MLA, MoE routing, the tokenizer's special tokens, the chat template).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace whale::model {

// Which MLA tensors the file carries (spec deepseek-arch.md §3.2).
enum class MlaTensors { kHybrid, kLegacy, kMqa };

struct SynthShape {
  std::string name;
  int64_t vocab = 0, dim = 0, ff = 0, ff_exp = 0;
  int layers = 0, dense_layers = 0, heads = 0;
  int q_lora = 0, kv_lora = 512, rope = 64, nope = 128, v = 128;
  int experts = 0, used = 0, shared = 0, groups = 1, groups_used = 1;
  bool sigmoid = false, selection_bias = false, norm_topk = false;
  float route_scale = 1.0f;
  float yarn_factor = 40.0f, yarn_log_mul = 0.1f;
  int yarn_original_ctx = 4096;
  int64_t ctx = 163840;
  float rms_eps = 1e-6f;
  MlaTensors mla = MlaTensors::kHybrid;
};

// "v2-lite", "v3", "tiny-v3", "v2-lite-tiny" (V2-Lite routing at test size), "v2-tiny" (V2
// group-limited softmax at test size), "demo". Throws whale::Error for other names.
SynthShape synth_shape(std::string_view name);

enum class SynthMix { kQ4_K_M, kQ8_0, kF16, kF32 };
SynthMix synth_mix(std::string_view name);  // "q4_k_m", "q8_0", "f16", "f32"

struct SynthOptions {
  SynthShape shape;
  SynthMix mix = SynthMix::kQ4_K_M;
  uint64_t seed = 1;
  // Chat template written to tokenizer.chat_template ("" = the built-in DeepSeek-V3-format one).
  std::string chat_template;
};

// Writes the model; returns the file size in bytes.
uint64_t write_synthetic_model(const SynthOptions& options, const std::filesystem::path& path);

// The chat template of demo models: DeepSeek-V3's conversation format (system prompt, user and
// assistant turns, tool calls and tool outputs), written for whale. With `thinking`, the
// generation prompt opens a <think> block as DeepSeek-R1's does.
std::string demo_chat_template(bool thinking);

}  // namespace whale::model
