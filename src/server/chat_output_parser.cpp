#include "server/chat_output_parser.h"

namespace whale::server {

ChatOutputParser::ChatOutputParser(const ChatParserConfig& config) : config_(config) {
  if (config_.thinking)
    splitter_ = std::make_unique<chat::ReasoningSplitter>(config_.start_inside, config_.think_open,
                                                          config_.think_close);
  if (config_.tools) {
    tools_ = std::make_unique<chat::ToolCallParser>(config_.accept_xml);
    tools_->set_incremental(true);  // arguments stream as they are generated (§3.4)
    // The prefix holds no call text of its own, but with a forced name it announces the call:
    // keep that header for the first push.
    if (!config_.forced_call_prefix.empty()) emit_calls(tools_->feed(config_.forced_call_prefix), held_);
  }
}

bool ChatOutputParser::in_reasoning() const { return splitter_ && splitter_->in_reasoning(); }

void ChatOutputParser::emit_calls(const chat::ToolCallDelta& d, std::vector<OutputPiece>& out) {
  if (!held_.empty() && &out != &held_) {
    out.insert(out.end(), held_.begin(), held_.end());
    held_.clear();
  }
  if (!d.content.empty()) out.push_back({OutputPiece::Kind::kContent, d.content, 0, {}});
  // Incremental mode: headers and argument pieces as they come (d.calls repeats them whole).
  for (const auto& f : d.fragments) {
    if (f.header) out.push_back({OutputPiece::Kind::kToolCallBegin, "", f.index, f.name});
    else if (!f.arguments.empty())
      out.push_back({OutputPiece::Kind::kToolCallArguments, f.arguments, f.index, {}});
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
