// Tool-call extraction from model output (api.md §3.4, §7.2; token format of spec §5/§6.2).
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

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

ParsedOutput run(const std::vector<std::string>& chunks, bool xml) {
  ToolCallParser p(xml);
  ParsedOutput out;
  auto take = [&](ToolCallDelta d) {
    out.content += d.content;
    for (auto& c : d.calls) out.calls.push_back(c);
  };
  for (const auto& c : chunks) take(p.feed(c));
  take(p.finish());
  return out;
}

struct Expected {
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
};

void expect_parse(const std::string& text, const Expected& want, bool xml = false) {
  SCOPED_TRACE(text);
  auto check = [&](const ParsedOutput& got, const std::string& how) {
    ASSERT_EQ(got.content, want.content) << how;
    ASSERT_EQ(got.calls.size(), want.calls.size()) << how;
    for (std::size_t k = 0; k < got.calls.size(); ++k) {
      EXPECT_EQ(got.calls[k].index, static_cast<int>(k)) << how;
      EXPECT_EQ(got.calls[k].id, "call_" + std::to_string(k)) << how;
      EXPECT_EQ(got.calls[k].name, want.calls[k].first) << how;
      EXPECT_EQ(got.calls[k].arguments, want.calls[k].second) << how;
    }
  };
  check(parse_tool_calls(text, xml), "whole");
  check(run(testing::byte_chunks(text), xml), "bytes");
  for (unsigned seed = 0; seed < 200; ++seed) check(run(testing::random_chunks(text, seed), xml), "seed " + std::to_string(seed));
}

TEST(ToolCalls, SingleV3Call) {
  // The exact form the V3/R1 templates write (spec §6.5 round trip).
  std::string text = kCallsBegin + v3_call("get_weather", "{\"city\": \"Paris\"}") + kCallsEnd;
  expect_parse(text, {"", {{"get_weather", "{\"city\": \"Paris\"}"}}});
}

TEST(ToolCalls, TextBeforeAndParallelCalls) {
  std::string text = "Let me check." + kCallsBegin + v3_call("get_weather", "{\"city\": \"Paris\"}") + "\n" +
                     v3_call("get_weather", "{\"city\": \"Tokyo\"}") + kCallsEnd;
  expect_parse(text, {"Let me check.", {{"get_weather", "{\"city\": \"Paris\"}"}, {"get_weather", "{\"city\": \"Tokyo\"}"}}});
}

TEST(ToolCalls, V31Form) {
  std::string text = kCallsBegin + kCallBegin + "search" + kSep + "{\"q\": \"whale\"}" + kCallEnd + kCallBegin + "noargs" +
                     kSep + kCallEnd + kCallsEnd;
  expect_parse(text, {"", {{"search", "{\"q\": \"whale\"}"}, {"noargs", "{}"}}});
}

TEST(ToolCalls, MissingBlockMarkersTolerated) {
  expect_parse(v3_call("a", "{}"), {"", {{"a", "{}"}}});
  expect_parse(kCallsBegin + v3_call("a", "{\"x\": 1}"), {"", {{"a", "{\"x\": 1}"}}});
}

TEST(ToolCalls, PlainTextPassesThrough) {
  expect_parse("No tools here <｜tool but not a marker, <tool_call> without xml mode.",
               {"No tools here <｜tool but not a marker, <tool_call> without xml mode.", {}});
  expect_parse("", {"", {}});
}

TEST(ToolCalls, MalformedCallsAreText) {
  // No separator.
  std::string bad1 = kCallsBegin + kCallBegin + "garbage" + kCallEnd + kCallsEnd;
  expect_parse(bad1, {kCallsBegin + kCallBegin + "garbage" + kCallEnd + kCallsEnd, {}});
  // Unterminated call (generation cut off).
  std::string bad2 = "x" + kCallsBegin + kCallBegin + "function" + kSep + "f\n```json\n{\"a\":";
  expect_parse(bad2, {bad2, {}});
  // Fence never closed.
  std::string bad3 = kCallBegin + "function" + kSep + "f\n```json\n{}" + kCallEnd;
  expect_parse(bad3, {bad3, {}});
  // Empty name.
  std::string bad4 = kCallBegin + kSep + "{}" + kCallEnd;
  expect_parse(bad4, {bad4, {}});
  // A good call, then a malformed one: the first is kept, the second is text.
  std::string mixed = kCallsBegin + v3_call("ok", "{}") + "\n" + kCallBegin + "nosep" + kCallEnd + kCallsEnd;
  // (given back verbatim, including the separator before it)
  expect_parse(mixed, {"\n" + kCallBegin + "nosep" + kCallEnd + kCallsEnd, {{"ok", "{}"}}});
  // Text inside a block after a call ends the block.
  std::string trailing = kCallsBegin + v3_call("ok", "{}") + "\nthen text";
  expect_parse(trailing, {"\nthen text", {{"ok", "{}"}}});
}

TEST(ToolCalls, QwenXmlForm) {
  std::string text = "Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  expect_parse(text, {"Sure.\n", {{"get_weather", "{\"city\":\"Paris\"}"}}}, true);
  std::string bad = "<tool_call>\n{not json}\n</tool_call>";
  expect_parse(bad, {bad, {}}, true);
}

TEST(ToolCalls, OpenAiShape) {
  ParsedToolCall c;
  c.id = "call_0_x";
  c.name = "f";
  c.arguments = "{\"a\":1}";
  EXPECT_EQ(c.to_json().dump(), R"({"id":"call_0_x","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}})");
}

TEST(ToolCalls, RandomBytesNeverThrow) {
  std::mt19937 rng(7);
  const std::string pieces[] = {kCallsBegin, kCallsEnd, kCallBegin, kCallEnd, kSep, "function", "\n```json\n",
                                "\n```", "{}", "x", "\n", "<", "｜", "<tool_call>", "</tool_call>"};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    int n = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int k = 0; k < n; ++k) text += pieces[std::uniform_int_distribution<std::size_t>(0, std::size(pieces) - 1)(rng)];
    ParsedOutput whole = parse_tool_calls(text, true);
    ParsedOutput bytes = run(testing::byte_chunks(text), true);
    ASSERT_EQ(whole.content, bytes.content) << text;
    ASSERT_EQ(whole.calls.size(), bytes.calls.size()) << text;
  }
}

}  // namespace
}  // namespace whale::chat
