// Incremental tool-call parsing (ToolCallParser::set_incremental, api.md §3.4): a header as
// soon as a call's name is known, then its arguments in fragments as they arrive. For any
// chunking, the concatenated fragments of each call equal the arguments whole mode reports,
// names and content are the same, and the header comes before the end marker has been seen.
#include <gtest/gtest.h>

#include <map>

#include "chat/tool_calls.h"
#include "chunking.h"

namespace whale::chat {
namespace {

const std::string kCallsBegin = "<｜tool▁calls▁begin｜>";
const std::string kCallsEnd = "<｜tool▁calls▁end｜>";
const std::string kCallBegin = "<｜tool▁call▁begin｜>";
const std::string kCallEnd = "<｜tool▁call▁end｜>";
const std::string kSep = "<｜tool▁sep｜>";

std::string v3_call(const std::string& name, const std::string& args) {
  return kCallBegin + "function" + kSep + name + "\n```json\n" + args + "\n```" + kCallEnd;
}
std::string v31_call(const std::string& name, const std::string& args) {
  return kCallBegin + name + kSep + args + kCallEnd;
}

struct Streamed {
  std::string content;
  std::vector<std::string> names;      // by index, from headers
  std::vector<std::string> arguments;  // by index, fragments concatenated
  std::vector<int> fragments;          // argument fragments per call
  bool header_first = true;            // no argument fragment before its header
};

Streamed stream(const std::vector<std::string>& chunks) {
  ToolCallParser p;
  p.set_incremental(true);
  Streamed s;
  auto take = [&](const ToolCallDelta& d) {
    s.content += d.content;
    for (const auto& f : d.fragments) {
      if (f.header) {
        EXPECT_EQ(f.index, static_cast<int>(s.names.size()));
        EXPECT_EQ(f.id, "call_" + std::to_string(f.index));
        s.names.push_back(f.name);
        s.arguments.emplace_back();
        s.fragments.push_back(0);
      } else if (f.index >= static_cast<int>(s.names.size())) {
        s.header_first = false;
      } else {
        s.arguments[f.index] += f.arguments;
        ++s.fragments[f.index];
      }
    }
  };
  for (const auto& c : chunks) take(p.feed(c));
  take(p.finish());
  return s;
}

void expect_same_as_whole(const std::string& text) {
  SCOPED_TRACE(text);
  const ParsedOutput whole = parse_tool_calls(text);
  auto check = [&](const Streamed& s, const std::string& how) {
    EXPECT_TRUE(s.header_first) << how;
    EXPECT_EQ(s.content, whole.content) << how;
    ASSERT_EQ(s.names.size(), whole.calls.size()) << how;
    for (size_t k = 0; k < s.names.size(); ++k) {
      EXPECT_EQ(s.names[k], whole.calls[k].name) << how;
      EXPECT_EQ(s.arguments[k], whole.calls[k].arguments) << how;
    }
  };
  check(stream({text}), "whole text");
  check(stream(testing::byte_chunks(text)), "bytes");
  for (unsigned seed = 0; seed < 200; ++seed)
    check(stream(testing::random_chunks(text, seed)), "seed " + std::to_string(seed));
}

TEST(ToolCallFragments, SameCallsAsWholeModeForAnyChunking) {
  expect_same_as_whole("Let me check. " + kCallsBegin +
                       v3_call("get_weather", "{\"city\": \"Paris\", \"days\": [1, 2, 3]}") + "\n" +
                       v3_call("get_time", "{}") + kCallsEnd);
  expect_same_as_whole(kCallsBegin + v31_call("search", "{\"q\": \"a `tick` and ``` fence\"}") +
                       v31_call("x-y_z", "  {\"n\": 1}\n  ") + kCallsEnd + " done");
  expect_same_as_whole(kCallsBegin + v3_call("f", "{\"s\": \"ends with space \"}  ") + kCallsEnd);
  expect_same_as_whole("no calls at all < | > ```");
}

TEST(ToolCallFragments, ArgumentsArriveBeforeTheCallEnds) {
  const std::string args = "{\"city\": \"Paris\", \"units\": \"metric\"}";
  const std::string text = kCallsBegin + v3_call("get_weather", args) + kCallsEnd;
  const std::string upto = text.substr(0, text.find("metric"));  // mid-arguments
  ToolCallParser p;
  p.set_incremental(true);
  std::string seen;
  bool header = false;
  int pieces = 0;
  for (const auto& chunk : testing::byte_chunks(upto)) {
    for (const auto& f : p.feed(chunk).fragments) {
      if (f.header) {
        header = true;
        EXPECT_EQ(f.name, "get_weather");
        EXPECT_TRUE(f.arguments.empty());
      } else {
        seen += f.arguments;
        ++pieces;
      }
    }
  }
  EXPECT_TRUE(header) << "the header must not wait for the end marker";
  EXPECT_EQ(seen, "{\"city\": \"Paris\", \"units\": \"");
  EXPECT_GT(pieces, 5);
  const ToolCallDelta rest = p.feed(text.substr(upto.size()));
  for (const auto& f : rest.fragments) seen += f.arguments;
  EXPECT_EQ(seen, args);
  ASSERT_EQ(rest.calls.size(), 1u);
  EXPECT_EQ(rest.calls[0].arguments, args);
}

TEST(ToolCallFragments, AnnouncedCallCutShortIsCompletedNotGivenBack) {
  ToolCallParser p;
  p.set_incremental(true);
  ToolCallDelta d = p.feed(kCallsBegin + kCallBegin + "get_time" + kSep + "{\"tz\": \"UT");
  ASSERT_FALSE(d.fragments.empty());
  EXPECT_TRUE(d.fragments[0].header);
  d = p.finish();
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "get_time");
  EXPECT_EQ(d.calls[0].arguments, "{\"tz\": \"UT");
}

TEST(ToolCallFragments, OffByDefault) {
  ToolCallParser p;
  const ToolCallDelta d = p.feed(kCallsBegin + v31_call("f", "{}") + kCallsEnd);
  EXPECT_TRUE(d.fragments.empty());
  EXPECT_EQ(d.calls.size(), 1u);
}

}  // namespace
}  // namespace whale::chat
