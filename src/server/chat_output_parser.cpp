#include "server/chat_output_parser.h"

namespace whale::server {

ChatOutputParser::ChatOutputParser(const ChatParserConfig& config) : config_(config) {
  if (config_.thinking)
    splitter_ = std::make_unique<chat::ReasoningSplitter>(config_.start_inside, config_.think_open,
                                                          config_.think_close);
  if (config_.tools) {
    tools_ = std::make_unique<chat::ToolCallParser>(config_.accept_xml);
    if (!config_.forced_call_prefix.empty()) tools_->feed(config_.forced_call_prefix);
  }
}

bool ChatOutputParser::in_reasoning() const { return splitter_ && splitter_->in_reasoning(); }

void ChatOutputParser::emit_calls(const chat::ToolCallDelta& d, std::vector<OutputPiece>& out) {
  if (!d.content.empty()) out.push_back({OutputPiece::Kind::kContent, d.content, 0, {}});
  for (const auto& call : d.calls) {
    out.push_back({OutputPiece::Kind::kToolCallBegin, "", call.index, call.name});
    out.push_back({OutputPiece::Kind::kToolCallArguments, call.arguments, call.index, {}});
  }
}

void ChatOutputParser::content(const std::string& text, std::vector<OutputPiece>& out) {
  if (text.empty()) return;
  if (tools_) emit_calls(tools_->feed(text), out);
  else out.push_back({OutputPiece::Kind::kContent, text, 0, {}});
}

void ChatOutputParser::push(std::string_view text, std::vector<OutputPiece>& out) {
  if (!splitter_) return content(std::string(text), out);
  const chat::ReasoningDelta d = splitter_->feed(std::string(text));
  if (!d.reasoning.empty()) out.push_back({OutputPiece::Kind::kReasoning, d.reasoning, 0, {}});
  content(d.content, out);
}

void ChatOutputParser::finish(std::vector<OutputPiece>& out) {
  if (splitter_) {
    const chat::ReasoningDelta d = splitter_->finish();
    if (!d.reasoning.empty()) out.push_back({OutputPiece::Kind::kReasoning, d.reasoning, 0, {}});
    content(d.content, out);
  }
  if (tools_) {
    // A forced call whose arguments ended (the JSON constraint completed) lacks its closing
    // markers; supply them so the call is reported rather than given back as text.
    if (tools_->in_call() && !config_.forced_call_suffix.empty())
      emit_calls(tools_->feed(config_.forced_call_suffix), out);
    emit_calls(tools_->finish(), out);
  }
}

}  // namespace whale::server
