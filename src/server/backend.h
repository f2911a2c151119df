// Everything the HTTP layer needs from the model side, behind one interface: chat rendering and
// tokenization, streaming detokenization, reasoning/tool-call splitting of the output, the JSON
// constraint, and the engine. serve() wires the real model (real_backend.h); tests use a fake, so
// validation, SSE framing and errors are testable without a model.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/chat_request.h"

namespace whale::server {

// One piece of parsed model output.
struct OutputPiece {
  enum class Kind { kReasoning, kContent, kToolCallBegin, kToolCallArguments };
  Kind kind = Kind::kContent;
  std::string text;     // reasoning/content text, or an arguments fragment
  int tool_index = 0;   // kToolCall*: which call of the turn (0, 1, ...)
  std::string name;     // kToolCallBegin: the function name
};

// Splits streamed output text into reasoning, answer and tool calls. One per request; not
// thread-safe.
class OutputParser {
 public:
  virtual ~OutputParser() = default;
  virtual void push(std::string_view text, std::vector<OutputPiece>& out) = 0;
  // End of output: flushes anything held back (an unterminated tool call becomes content or
  // is dropped, as the implementation documents).
  virtual void finish(std::vector<OutputPiece>& out) = 0;
  // Whether text pushed now would be reasoning (used to count reasoning tokens).
  virtual bool in_reasoning() const = 0;
};

// Everything is content: text completions and chats without thinking or tools.
class PlainOutputParser final : public OutputParser {
 public:
  void push(std::string_view text, std::vector<OutputPiece>& out) override {
    if (!text.empty()) out.push_back({OutputPiece::Kind::kContent, std::string(text), 0, {}});
  }
  void finish(std::vector<OutputPiece>&) override {}
  bool in_reasoning() const override { return false; }
};

// Token ids to UTF-8 text for one sequence, never splitting a character.
class TextDecoder {
 public:
  virtual ~TextDecoder() = default;
  virtual std::string push(int32_t token) = 0;
  virtual std::string flush() = 0;
};

struct BackendInfo {
  std::string model_name;           // for logs and /health
  std::string system_fingerprint;   // "fp_" + 10 hex digits
  int32_t n_ctx = 0;                // context per sequence
  bool fim = false;                 // the vocabulary has FIM markers
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendInfo info() const = 0;
  // False while loading or after shutdown began (503 "Loading model").
  virtual bool ready() const = 0;

  // The fully templated prompt of a chat request, as token ids (thinking flag, tools, prefix
  // continuation all applied). Throws ApiError for conversations the template rejects.
  virtual std::vector<int32_t> encode_chat(const ChatRequest& request) = 0;
  // Fill-in-the-middle prompt; plain continuation of `prompt` when there is no suffix.
  virtual std::vector<int32_t> encode_fim(const std::string& prompt,
                                          const std::optional<std::string>& suffix) = 0;
  virtual std::unique_ptr<TextDecoder> make_decoder() = 0;
  // Output parser for a chat request (reasoning split in thinking mode, tool calls when the
  // request allows them).
  virtual std::unique_ptr<OutputParser> make_output_parser(const ChatRequest& request) = 0;
  // The raw bytes a token stands for (logprobs).
  virtual std::string token_bytes(int32_t token) const = 0;
  // The decoding constraint a chat request needs (JSON output mode; arguments of a forced tool
  // call), or nullptr for none.
  virtual std::shared_ptr<sampling::TokenConstraint> make_constraint(const ChatRequest& request) = 0;

  // Engine access. submit() throws engine::QueueFull (429) or whale::Error.
  virtual std::shared_ptr<engine::Stream> submit(engine::GenerateRequest request) = 0;
  virtual engine::EngineStats stats() const = 0;
  // Stops admitting, lets running requests finish until the deadline, cancels the rest.
  virtual void shutdown(std::chrono::milliseconds deadline) = 0;
};

}  // namespace whale::server
