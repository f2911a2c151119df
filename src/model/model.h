// A loaded model: hyperparameters, weights viewed in the mmap'd file, and one forward pass that
// serves both prompt processing (many tokens of one sequence) and decoding (one token each of
// many sequences), sharing the block KV cache (model/kv_cache.h). The model computes; it does not
// decide which sequences run (that is engine/), and knows nothing of tokens as text.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/kv_cache.h"
#include "util/thread_pool.h"

namespace whale::model {

// One sequence's part of a batched step.
struct SeqStep {
  std::span<const int32_t> tokens;       // new tokens, at positions n_past, n_past+1, ...
  int32_t n_past = 0;                    // tokens already in this sequence's cache
  std::span<const int32_t> block_table;  // KV blocks covering [0, n_past + tokens.size())
  bool all_logits = false;               // logits for every new token, else only the last
  // All new tokens come from the request (prompt processing), none was sampled. Their products
  // may use the kernels' prefill numerics (bf16 tile products on AMX CPUs, kernel_table.h),
  // sampled tokens always use the exact integer dot products. The choice depends only on this
  // flag, never on what else is in the batch, so a sequence's results do not change with load.
  bool prompt = false;
};

struct ModelInfo {
  std::string architecture;   // "deepseek2", "llama", "qwen2"
  std::string name;           // general.name or folder name
  int64_t vocab_size = 0;
  int64_t n_layers = 0;
  int64_t n_embd = 0;
  int64_t n_ctx_train = 0;    // context the model was trained for
  KvLayout kv_layout;         // what one token costs in the KV cache
  // The KV cache type that serves this model best here, used when none is asked for: BF16 for
  // MLA models whose attention runs on tile products on this CPU (their attention rounds the
  // cache to bf16 anyway, and a bf16 cache is read straight into tiles: decode at long contexts
  // stays near the cost of reading the cache), else F16.
  KvType preferred_kv = KvType::F16;
  uint64_t weight_bytes = 0;            // all tensors
  uint64_t active_weight_bytes = 0;     // read per decoded token (experts: only k of E)
  std::string description;    // one line for logs: variant, quant mix, repacking
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;

  // Runs one step for a batch of sequences. Writes the KV rows of every new token into its
  // sequence's blocks (which the caller allocated), then fills `logits` with one row of
  // vocab_size floats per requested position: for each entry in order, all its new tokens if
  // all_logits, else its last one. Throws whale::Error on invalid input (token id out of range,
  // block table too short).
  virtual void forward(std::span<const SeqStep> batch, KvPool& kv, std::vector<float>& logits) = 0;
};

struct LoadOptions {
  bool progress = true;  // progress bar on a terminal for files over 1 GB (silent otherwise)
};

// Loads a GGUF file (deepseek2, llama, qwen2) or a Hugging Face checkpoint folder
// (config.json + safetensors). The pool does the model's parallel work and must outlive it.
// Throws whale::Error naming the file and the problem (unsupported architecture, missing tensor).
std::unique_ptr<Model> load_model(const std::filesystem::path& path, ThreadPool& pool,
                                  const LoadOptions& options = {});

}  // namespace whale::model
