// One request's output pipeline, from engine token events to API-level deltas:
//   TokenEvents -> TextDecoder (UTF-8 safe) -> StopMatcher (holds back possible stop-string
//   starts) -> OutputParser (reasoning / content / tool calls) -> Delta
// It also counts reasoning tokens, applies the E2 answer-token limit, keeps logprobs and
// timings, and decides the API finish_reason. Used by one request thread at a time.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/backend.h"
#include "server/stop_matcher.h"

namespace whale::server {

struct TopLogprobEntry {
  std::string bytes;  // raw token bytes
  float logprob = 0;
};

struct LogprobEntry {
  std::string bytes;
  float logprob = 0;
  std::vector<TopLogprobEntry> top;
};

struct ToolCallDelta {
  int index = 0;
  bool header = false;   // first delta of this call: carries id and name
  std::string id;
  std::string name;
  std::string arguments;
};

// What became available since the last poll.
struct Delta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;
  std::vector<LogprobEntry> logprobs;
  bool empty() const {
    return reasoning.empty() && content.empty() && tool_calls.empty() && logprobs.empty();
  }
};

struct GenerationOptions {
  std::vector<std::string> stop;
  bool logprobs = false;
  int32_t answer_token_limit = -1;  // E2 reasoner: max_tokens counts the answer only
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

struct GenerationUsage {
  int32_t prompt_tokens = 0;
  int32_t cache_hit_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t reasoning_tokens = 0;
};

class Generation {
 public:
  Generation(Backend& backend, std::shared_ptr<engine::Stream> stream,
             std::unique_ptr<OutputParser> parser, GenerationOptions options);
  ~Generation();  // cancels the engine stream if it is still running
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Waits up to `timeout` for output and appends it to `delta`. Returns true once generation
  // has finished (then `delta` holds the last of it and finish_reason() is set).
  bool poll(std::chrono::milliseconds timeout, Delta& delta);
  // The client went away: stop the engine; the request ends without an API finish reason.
  void cancel();

  bool finished() const { return finished_; }
  // "stop", "length", "tool_calls" or "insufficient_system_resource"; "" before the end.
  const std::string& finish_reason() const { return finish_reason_; }
  // Engine error text when the engine failed the request (finish_reason is then
  // "insufficient_system_resource").
  const std::string& error() const { return error_; }
  GenerationUsage usage() const;
  bool any_tool_calls() const { return n_tool_calls_ > 0; }
  // Seconds from options.start to the first token; < 0 while none came.
  double time_to_first_token() const { return ttft_; }
  const std::vector<double>& inter_token_latencies() const { return itl_; }

 private:
  void feed_text(const std::string& text, Delta& delta);
  void apply(std::vector<OutputPiece>& pieces, Delta& delta);
  void finish(Delta& delta);

  Backend& backend_;
  std::shared_ptr<engine::Stream> stream_;
  std::unique_ptr<OutputParser> parser_;
  std::unique_ptr<TextDecoder> decoder_;
  GenerationOptions options_;
  StopMatcher stop_;
  std::vector<engine::TokenEvent> events_;
  std::vector<std::string> call_ids_;
  int n_tool_calls_ = 0;
  int32_t completion_tokens_ = 0;
  int32_t reasoning_tokens_ = 0;
  int32_t answer_tokens_ = 0;
  bool stopped_by_us_ = false;    // stop string or answer limit: we cancelled the engine
  bool length_by_us_ = false;     // answer limit reached
  bool client_gone_ = false;
  bool finished_ = false;
  std::string finish_reason_;
  std::string error_;
  double ttft_ = -1;
  std::vector<double> itl_;
  std::chrono::steady_clock::time_point last_token_;
};

// "call_<index>_<random>" (spec §3.4).
std::string make_tool_call_id(int index);
// A random UUID v4 string (response ids, spec §3.1).
std::string make_uuid_v4();

}  // namespace whale::server
