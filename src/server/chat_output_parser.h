// The OutputParser for real models: the chat layer's reasoning splitter (thinking mode) feeding
// its tool-call parser (when tools are active), mapped onto OutputPieces. Tool calls stream: a
// kToolCallBegin piece once the name is known, then kToolCallArguments pieces as they arrive.
#pragma once
#include <memory>
#include <string>

#include "chat/reasoning.h"
#include "chat/tool_calls.h"
#include "server/backend.h"

namespace whale::server {

struct ChatParserConfig {
  bool thinking = false;        // split off a reasoning span
  bool start_inside = false;    // the prompt already opened the think span
  std::string think_open = "<think>";
  std::string think_close = "</think>";
  bool tools = false;           // parse tool calls
  bool accept_xml = false;      // Qwen-style <tool_call> blocks
  // Forced tool call: text the prompt already holds (the call's opening markers), fed to the
  // tool parser first, and the closing markers fed at the end if the call is still open.
  std::string forced_call_prefix;
  std::string forced_call_suffix;
};

class ChatOutputParser final : public OutputParser {
 public:
  explicit ChatOutputParser(const ChatParserConfig& config);
  void push(std::string_view text, std::vector<OutputPiece>& out) override;
  void finish(std::vector<OutputPiece>& out) override;
  bool in_reasoning() const override;

 private:
  void content(const std::string& text, std::vector<OutputPiece>& out);
  void emit_calls(const chat::ToolCallDelta& d, std::vector<OutputPiece>& out);

  ChatParserConfig config_;
  std::unique_ptr<chat::ReasoningSplitter> splitter_;
  std::unique_ptr<chat::ToolCallParser> tools_;
  std::vector<OutputPiece> held_;  // pieces from the forced prefix, sent with the first output
};

}  // namespace whale::server
