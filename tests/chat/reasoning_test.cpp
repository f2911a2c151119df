// Reasoning/content split (api.md §4.1; spec tokenizer-and-chat.md §6.3 "Forced thinking").
#include "chat/reasoning.h"

#include <gtest/gtest.h>

#include "chunking.h"

namespace whale::chat {
namespace {

ReasoningDelta run(const std::vector<std::string>& chunks, bool start_inside) {
  ReasoningSplitter s(start_inside);
  ReasoningDelta all;
  bool content_started = false;
  for (const auto& c : chunks) {
    ReasoningDelta d = s.feed(c);
    // api.md §3.4: reasoning never appears after answer text has started.
    if (content_started) EXPECT_TRUE(d.reasoning.empty());
    if (!d.content.empty()) content_started = true;
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  ReasoningDelta d = s.finish();
  if (content_started) EXPECT_TRUE(d.reasoning.empty());
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

void expect_split(const std::string& text, bool start_inside, const std::string& reasoning, const std::string& content) {
  SCOPED_TRACE(text);
  ReasoningDelta whole = run({text}, start_inside);
  EXPECT_EQ(whole.reasoning, reasoning);
  EXPECT_EQ(whole.content, content);
  ReasoningDelta bytes = run(testing::byte_chunks(text), start_inside);
  EXPECT_EQ(bytes.reasoning, reasoning);
  EXPECT_EQ(bytes.content, content);
  for (unsigned seed = 0; seed < 200; ++seed) {
    ReasoningDelta r = run(testing::random_chunks(text, seed), start_inside);
    ASSERT_EQ(r.reasoning, reasoning) << "seed " << seed;
    ASSERT_EQ(r.content, content) << "seed " << seed;
  }
}

TEST(Reasoning, R1OutputStartsInsideThink) {
  // The R1 prompt ends with "<think>\n": the output has only the closing tag.
  expect_split("Simple arithmetic: 2+2=4.\n</think>\n\nThe answer is 4.", true, "Simple arithmetic: 2+2=4.",
               "The answer is 4.");
}

TEST(Reasoning, R1_0528WritesTheOpenTag) {
  expect_split("<think>\nLet me think.\n</think>\n\nHello!", false, "Let me think.", "Hello!");
  expect_split("\n<think>x</think>y", false, "x", "y");
}

TEST(Reasoning, NoThinkIsAllContent) {
  expect_split("Hello <think> world", false, "", "Hello <think> world");
  expect_split("  <thin", false, "", "  <thin");  // an incomplete tag at the end is text
  expect_split("", false, "", "");
}

TEST(Reasoning, OnlyOneSpanAndTagsInContentStay) {
  expect_split("a</think>b</think>c<think>d", true, "a", "b</think>c<think>d");
}

TEST(Reasoning, UnclosedReasoningIsAllReasoning) {
  expect_split("thinking and thinking </thi", true, "thinking and thinking </thi", "");
  expect_split("thinking\n\n", true, "thinking", "");
}

TEST(Reasoning, NearMissTagsAreReasoningText) {
  expect_split("a </think b <\\think> c</think>done", true, "a </think b <\\think> c", "done");
  expect_split("line1\n\nline2 </ok</think>", true, "line1\n\nline2 </ok", "");
}

TEST(Reasoning, MultibyteTextSplitAnywhere) {
  expect_split("思考🐳中</think>答案：🐳", true, "思考🐳中", "答案：🐳");
}

TEST(Reasoning, CustomTagsAndNoTrim) {
  ReasoningSplitter s(true, "<t>", "</t>", /*trim=*/false);
  ReasoningDelta a = s.feed(" x </t");
  ReasoningDelta b = s.feed("> y");
  ReasoningDelta c = s.finish();
  EXPECT_EQ(a.reasoning + b.reasoning + c.reasoning, " x ");
  EXPECT_EQ(a.content + b.content + c.content, " y");
}

}  // namespace
}  // namespace whale::chat
