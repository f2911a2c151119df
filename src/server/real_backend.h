// The Backend over a real model: tokenizer, chat template, model and engine loaded from one
// model path (GGUF file or Hugging Face folder). Loading happens in load(), so the HTTP server
// can answer /health with 503 "Loading model" meanwhile.
#pragma once
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "engine/engine.h"
#include "server/backend.h"
#include "util/thread_pool.h"

namespace whale::server {

struct RealBackendOptions {
  std::filesystem::path model_path;
  int threads = 0;  // 0: one per hardware thread
  engine::EngineOptions engine;
  bool warn_to_stderr = true;
};

class RealBackend final : public Backend {
 public:
  explicit RealBackend(RealBackendOptions options);
  ~RealBackend() override;

  // Loads tokenizer, template, model and starts the engine. Throws whale::Error naming the
  // file and problem. ready() turns true when it returns.
  void load();

  BackendInfo info() const override;
  bool ready() const override { return ready_; }
  std::vector<int32_t> encode_chat(const ChatRequest& request) override;
  std::vector<int32_t> encode_fim(const std::string& prompt,
                                  const std::optional<std::string>& suffix) override;
  std::unique_ptr<TextDecoder> make_decoder() override;
  std::unique_ptr<OutputParser> make_output_parser(const ChatRequest& request) override;
  std::string token_bytes(int32_t token) const override;
  std::shared_ptr<sampling::TokenConstraint> make_constraint(const ChatRequest& request) override;
  std::shared_ptr<engine::Stream> submit(engine::GenerateRequest request) override;
  engine::EngineStats stats() const override;
  void shutdown(std::chrono::milliseconds deadline) override;

 private:
  struct State;
  struct PromptPlan;
  PromptPlan plan(const ChatRequest& request) const;

  RealBackendOptions options_;
  std::unique_ptr<State> s_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> loaded_{false};
  std::atomic<bool> stopped_{false};  // shutdown() was called (also during load)  // load() finished: the engine exists (stays true in shutdown)
};

}  // namespace whale::server
