// The real-model output parser (chat_output_parser.h) as the server uses it for tool calls:
// arguments stream in pieces (api.md §3.4), and a forced call ("required" among several tools:
// the prompt opens the call, the model writes NAME + fence + JSON, the constraint stops it at
// the closing brace) is completed with the closing markers at the end.
#include "server/chat_output_parser.h"

#include <gtest/gtest.h>

namespace whale::server {
namespace {

const std::string kCallsBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kCallsEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";

struct Seen {
  std::vector<std::string> names;
  std::vector<std::string> args;
  int arg_pieces = 0;
  std::string content;
};

void take(const std::vector<OutputPiece>& pieces, Seen& s) {
  for (const auto& p : pieces) {
    switch (p.kind) {
      case OutputPiece::Kind::kToolCallBegin:
        ASSERT_EQ(p.tool_index, static_cast<int>(s.names.size()));
        s.names.push_back(p.name);
        s.args.emplace_back();
        break;
      case OutputPiece::Kind::kToolCallArguments:
        ASSERT_LT(p.tool_index, static_cast<int>(s.names.size())) << "arguments before header";
        s.args[p.tool_index] += p.text;
        ++s.arg_pieces;
        break;
      default:
        s.content += p.text;
    }
  }
}

TEST(ChatOutputParser, ToolCallArgumentsStreamInPieces) {
  ChatParserConfig c;
  c.tools = true;
  ChatOutputParser p(c);
  const std::string text = "Checking. " + kCallsBegin + kCallBegin + "function" + kSep +
                           "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + kCallEnd + kCallsEnd;
  Seen s;
  bool header_before_end = false;
  for (size_t i = 0; i < text.size(); ++i) {
    std::vector<OutputPiece> out;
    p.push(text.substr(i, 1), out);
    take(out, s);
    if (i + kCallEnd.size() + kCallsEnd.size() < text.size() && !s.names.empty())
      header_before_end = true;
  }
  std::vector<OutputPiece> out;
  p.finish(out);
  take(out, s);
  EXPECT_TRUE(header_before_end);
  EXPECT_EQ(s.content, "Checking. ");
  ASSERT_EQ(s.names, std::vector<std::string>{"get_weather"});
  EXPECT_EQ(s.args[0], "{\"city\": \"Paris\"}");
  EXPECT_GT(s.arg_pieces, 3);
}

TEST(ChatOutputParser, RequiredCallAmongSeveralToolsIsCompleted) {
  // What real_backend sets up for tool_choice "required" with several tools (V3 syntax).
  ChatParserConfig c;
  c.tools = true;
  c.forced_call_prefix = kCallsBegin + kCallBegin + "function" + kSep;
  c.forced_call_suffix = "\n```" + kCallEnd + kCallsEnd;
  ChatOutputParser p(c);
  Seen s;
  for (const char* chunk : {"get_", "time\n```json\n", "{\"tz\"", ": \"UTC\"}"}) {
    std::vector<OutputPiece> out;
    p.push(chunk, out);
    take(out, s);
  }
  std::vector<OutputPiece> out;
  p.finish(out);
  take(out, s);
  EXPECT_EQ(s.content, "");
  ASSERT_EQ(s.names, std::vector<std::string>{"get_time"});
  EXPECT_EQ(s.args[0], "{\"tz\": \"UTC\"}");
}

TEST(ChatOutputParser, NamedForcedCallHeaderIsNotLost) {
  // tool_choice naming a function: the prompt already holds the name and the fence, so the
  // header comes from the prefix and must still reach the client.
  ChatParserConfig c;
  c.tools = true;
  c.forced_call_prefix = kCallsBegin + kCallBegin + "function" + kSep + "lookup\n```json\n";
  c.forced_call_suffix = "\n```" + kCallEnd + kCallsEnd;
  ChatOutputParser p(c);
  Seen s;
  std::vector<OutputPiece> out;
  p.push("{\"id\": 7}", out);
  p.finish(out);
  take(out, s);
  ASSERT_EQ(s.names, std::vector<std::string>{"lookup"});
  EXPECT_EQ(s.args[0], "{\"id\": 7}");
}

}  // namespace
}  // namespace whale::server
