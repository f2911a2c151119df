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

// Incremental mode only: a piece of a call as it is generated. The first fragment of a call is
// its header (name and id set, arguments ""); later ones carry argument text. Concatenated,
// a call's argument fragments are exactly the `arguments` it is completed with.
struct ToolCallFragment {
  int index = 0;
  std::string id;          // header only
  std::string name;        // header only
  std::string arguments;   // a piece of the arguments (empty in the header)
  bool header = false;
};

struct ToolCallDelta {
  std::string content;                 // plain text to emit
  std::vector<ParsedToolCall> calls;   // calls completed by this feed
  std::vector<ToolCallFragment> fragments;  // incremental mode: headers and argument pieces
  bool empty() const { return content.empty() && calls.empty() && fragments.empty(); }
};

class ToolCallParser {
 public:
  // make_id(index) returns the id of the index-th call (default "call_<index>").
  explicit ToolCallParser(bool accept_xml = false,
                          std::function<std::string(int)> make_id = nullptr);

  // Incremental mode (for streaming, api.md §3.4): a DeepSeek-form call (V3/R1 or V3.1) is
  // announced by a header fragment as soon as its name is known, and its arguments follow as
  // fragments as they arrive (leading/trailing whitespace, the closing fence and a possible
  // start of the end marker held back until decided). Completed calls are still listed in
  // `calls`. Trade-off: once announced, a call can no longer be given back as text; if it turns
  // out malformed or the text ends inside it, it is completed with the arguments so far ("{}"
  // when none). Calls not yet announced, and the XML form, behave as in whole mode (a header
  // and one fragment with all arguments when they complete). Names and argument texts do not
  // depend on the chunking. Set before the first feed().
  void set_incremental(bool on) { incremental_ = on; }

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
  void stream_call(ToolCallDelta& out);
  void end_streamed_call(const std::string& body, ToolCallDelta& out);
  void announce(const ParsedToolCall& call, ToolCallDelta& out);

  bool accept_xml_;
  std::function<std::string(int)> make_id_;
  Mode mode_ = Mode::Text;
  std::string pending_;   // undecided text in Text mode / body of the current call
  std::string raw_;       // verbatim text of the current block, given back if malformed
  int next_index_ = 0;
  // Incremental mode: the call being streamed (announced once its name is known).
  bool incremental_ = false;
  bool streaming_ = false;
  bool fenced_ = false;          // V3/R1 form: arguments end with a ``` fence
  size_t args_offset_ = 0;       // where the arguments start in pending_
  std::string emitted_;          // argument text already sent
  ParsedToolCall current_;       // index, id, name of the streamed call
};

// Parses a complete text at once (non-streaming responses).
struct ParsedOutput {
  std::string content;
  std::vector<ParsedToolCall> calls;
};
ParsedOutput parse_tool_calls(const std::string& text, bool accept_xml = false,
                              std::function<std::string(int)> make_id = nullptr);

}  // namespace whale::chat
