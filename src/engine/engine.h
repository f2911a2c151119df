// The engine: owns the KV block pool and one scheduler thread that runs every active sequence in
// one batched forward per step (continuous batching), admits queued requests between steps, and
// splits long prompts into chunks interleaved with decoding. It works on token ids; text, chat
// templates, stop strings and HTTP are the server's business.
//
// Flow: the server calls submit() and gets a Stream; it pulls TokenEvents from the Stream on its
// own thread (blocking with a timeout) and calls cancel() if the client goes away or a stop
// string matched; the engine frees the sequence's KV within one step of a cancel.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "sampling/sampling_params.h"

namespace whale::tokenizer {
class Tokenizer;
}
namespace whale::sampling {
class TokenConstraint;  // sampling/constraint.h: restricts candidate tokens (JSON mode, tools)
}

namespace whale::engine {

struct EngineOptions {
  int max_parallel = 4;         // sequences decoded together
  int ctx_size = 8192;          // max tokens per sequence (prompt + completion)
  int64_t kv_blocks = 0;        // 0: enough for max_parallel full contexts
  std::optional<model::KvType> kv_type;  // none: the model's preferred type (ModelInfo)
  int max_queue = 64;           // waiting requests beyond which submit() refuses (503); 0 = no limit
  int prefill_chunk = 512;      // prompt tokens per step for one sequence
  // Tokens one step computes in all: every decoding sequence's next token first (a long prompt
  // must not freeze the streams), then prompt chunks in arrival order with what is left (at
  // least 16, so prompts progress under any decode load). Prefill on a CPU runs at
  // tens of tokens per second: this bounds how long a step, and so an inter-token gap, can last.
  int step_tokens = 128;

  // Prefix cache (context caching, spec api.md §5; engine/prefix_cache.h). Automatic: a prompt
  // that starts with the tokens of an earlier one reuses their KV in 64-token blocks.
  // RAM tier budget; 0 turns the RAM tier off. With kv_blocks == 0 the pool gets this much on
  // top of what the sequences need; with kv_blocks set, cached blocks share those blocks and
  // give way to running sequences.
  int64_t cache_ram_bytes = int64_t{1} << 30;
  // Disk tier (engine/disk_cache.h): used when disk_cache is on, cache_dir is set (see
  // default_cache_dir() in engine/disk_cache.h) and model_identity is set
  // (model::model_identity(path), model/model_identity.h; it keeps other models out).
  bool disk_cache = true;
  std::filesystem::path cache_dir;
  int64_t cache_disk_bytes = int64_t{10} << 30;
  std::string model_identity;
  // Cache events worth an operator's attention (a corrupt entry rejected, a failed write);
  // default: one line on stderr.
  std::function<void(const std::string&)> log;
};

struct GenerateRequest {
  std::vector<int32_t> prompt;
  sampling::SamplingParams sampling;
  int32_t max_tokens = 256;                 // completion tokens at most
  bool stop_at_eog = true;                  // end on the tokenizer's end-of-generation ids
  std::vector<int32_t> extra_stop_tokens;   // more ids that end generation (not emitted)
  std::shared_ptr<sampling::TokenConstraint> constraint;  // optional (JSON mode, tools)
  std::string request_id;                   // for logs
};

struct TopLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct TokenEvent {
  int32_t token = 0;
  float logprob = 0;                 // of the chosen token (natural log), when requested
  std::vector<TopLogprob> top;       // best alternatives, when requested
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // served from the prefix cache (multiple of 64)
  int32_t completion_tokens = 0;
  double time_to_first_token_ms = 0;
  double decode_ms = 0;
};

// One request's output channel. Thread-safe: the engine pushes, one consumer pulls.
class Stream {
 public:
  virtual ~Stream() = default;
  // Moves the events produced so far into `out` (appending), waiting up to `timeout` for at
  // least one. Returns false once the stream has finished and every event was taken.
  virtual bool next(std::vector<TokenEvent>& out, std::chrono::milliseconds timeout) = 0;
  // Asks the engine to stop this request; idempotent; safe from any thread.
  virtual void cancel() = 0;
  virtual bool finished() const = 0;
  virtual FinishReason finish_reason() const = 0;
  virtual Usage usage() const = 0;
  virtual std::string error() const = 0;  // for kError
};

struct EngineStats {
  int64_t requests_total = 0;
  int64_t requests_active = 0;
  int64_t requests_queued = 0;
  int64_t prompt_tokens_total = 0;
  int64_t cached_prompt_tokens_total = 0;
  int64_t completion_tokens_total = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  int64_t preemptions_total = 0;
  int64_t steps_total = 0;
  // Prefix cache. Hit ratio = cached_prompt_tokens_total / prompt_tokens_total.
  int64_t cache_ram_bytes = 0;            // blocks held by the RAM tier
  int64_t cache_ram_blocks = 0;
  int64_t cache_ram_evictions_total = 0;
  int64_t cache_ram_hit_blocks_total = 0; // blocks reused from RAM
  int64_t cache_disk_bytes = 0;           // cache files in the folder (every model's)
  int64_t cache_disk_entries = 0;         // this model's entries
  int64_t cache_disk_evictions_total = 0;
  int64_t cache_disk_hit_blocks_total = 0;  // blocks loaded from disk
  int64_t cache_disk_writes_total = 0;
  int64_t cache_disk_errors_total = 0;    // corrupt or truncated entries rejected
};

// Thrown by submit() when the wait queue is full or the engine is draining (server: 429,
// rate_limit_error, per api.md §8.2 and §9.5).
class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Queues a request; throws QueueFull when max_queue requests already wait, whale::Error when
  // the prompt cannot fit ctx_size (the server checks this first and answers 400).
  virtual std::shared_ptr<Stream> submit(GenerateRequest request) = 0;
  virtual EngineStats stats() const = 0;
  virtual const EngineOptions& options() const = 0;
  // Stops admitting; lets running requests finish until `deadline`, then cancels the rest;
  // returns when the scheduler thread has stopped.
  virtual void shutdown(std::chrono::milliseconds deadline) = 0;
};

// The model and tokenizer must outlive the engine.
std::unique_ptr<Engine> make_engine(model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                    const EngineOptions& options);

// The same with the end-of-generation ids given directly (tests and tools without a tokenizer).
// Throws whale::Error on bad options (max_parallel < 1, prefill_chunk < 1, ctx_size < 1).
std::unique_ptr<Engine> make_engine(model::Model& model, std::vector<int32_t> eog_tokens,
                                    const EngineOptions& options);

}  // namespace whale::engine
