// Streaming parser of the tool calls that DeepSeek-family models write in their output, into
// OpenAI-style calls {id, type:"function", function:{name, arguments}} (api.md §3.4, §7.2).
//
// Accepted forms (any of them, whatever the model family; markers are the vocabulary strings):
//   V3/R1:  <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
//           ["\n"<｜tool▁call▁begin｜>…]<｜tool▁calls▁end｜>
//   V3.1+:  <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   Qwen / R1-Distill-Qwen (only when the parser is built with accept_xml):
//           <tool_call>\n{"name": NAME, "arguments": {...}}\n</tool_call>
// A missing <｜tool▁calls▁begin｜> before the first <｜tool▁call▁begin｜> is tolerated, and so is
// a missing <｜tool▁calls▁end｜> at the end of the text.
//
// Contract:
// - Text outside calls is content, passed through as it arrives, except a tail that could be
//   the start of a marker (held back until decided). Separators between calls are dropped.
// - A call is emitted whole once its end marker arrives: name, and `arguments` as the JSON text
//   the model wrote (trimmed; not re-serialised; objects in the XML form are serialised compactly).
// - Malformed calls (bad structure, empty name, end of text before the call's end marker) are
//   given back verbatim as content, never thrown, never crash.
// - For any chunking of the same text the concatenated content and the list of calls are
//   identical (ids aside: ids come from the id generator, called once per call in order).
// Not thread-safe; one instance per generated sequence.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace whale::chat {

struct ParsedToolCall {
  int index = 0;            // position among this output's calls
  std::string id;           // from the id generator
  std::string name;
  std::string arguments;    // JSON text
  // OpenAI shape: {"id", "type":"function", "function":{"name","arguments"}}.
  nlohmann::ordered_json to_json() const;
};

struct ToolCallDelta {
  std::string content;                 // plain text to emit
  std::vector<ParsedToolCall> calls;   // calls completed by this feed
  bool empty() const { return content.empty() && calls.empty(); }
};

class ToolCallParser {
 public:
  // make_id(index) returns the id of the index-th call (default "call_<index>").
  explicit ToolCallParser(bool accept_xml = false,
                          std::function<std::string(int)> make_id = nullptr);

  ToolCallDelta feed(const std::string& text);
  // End of text: an unfinished call becomes content.
  ToolCallDelta finish();

  int calls_emitted() const { return next_index_; }
  // True while inside a tool-call block (text is being buffered, not emitted).
  bool in_call() const { return mode_ != Mode::Text; }

 private:
  enum class Mode { Text, Block, Call, XmlCall };
  void step(ToolCallDelta& out, bool final);
  bool finish_call(const std::string& body, ToolCallDelta& out);
  bool finish_xml_call(const std::string& body, ToolCallDelta& out);

  bool accept_xml_;
  std::function<std::string(int)> make_id_;
  Mode mode_ = Mode::Text;
  std::string pending_;   // undecided text in Text mode / body of the current call
  std::string raw_;       // verbatim text of the current block, given back if malformed
  int next_index_ = 0;
};

// Parses a complete text at once (non-streaming responses).
struct ParsedOutput {
  std::string content;
  std::vector<ParsedToolCall> calls;
};
ParsedOutput parse_tool_calls(const std::string& text, bool accept_xml = false,
                              std::function<std::string(int)> make_id = nullptr);

}  // namespace whale::chat
