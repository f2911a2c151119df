// FIM prompts (spec §6.4, api.md §6) against fixtures/tokenizer/chat/fim.jsonl.
#include "chat/fim.h"

#include <gtest/gtest.h>

#include "chat_fixtures.h"

namespace whale::chat {
namespace {

TEST(Fim, MatchesFixturePrompts) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/fim.jsonl");
  auto rows = testing::read_jsonl(testing::fixture("tokenizer/chat/fim.jsonl"));
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    EXPECT_EQ(build_fim_prompt(r["prefix"], std::optional<std::string>(r["suffix"].get<std::string>())),
              r["prompt"].get<std::string>());
  }
}

TEST(Fim, NoSuffixIsPlainCompletion) { EXPECT_EQ(build_fim_prompt("def f(", std::nullopt), "def f("); }

TEST(Fim, DetectMarkersFromVocabulary) {
  auto deepseek = detect_fim_markers([](const std::string& t) { return t.find("fim▁") != std::string::npos; });
  ASSERT_TRUE(deepseek);
  EXPECT_EQ(deepseek->begin, "<｜fim▁begin｜>");
  auto qwen = detect_fim_markers([](const std::string& t) { return t.rfind("<|fim_", 0) == 0; });
  ASSERT_TRUE(qwen);
  EXPECT_EQ(build_fim_prompt("a", std::optional<std::string>("b"), *qwen), "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>");
  EXPECT_FALSE(detect_fim_markers([](const std::string&) { return false; }));
}

}  // namespace
}  // namespace whale::chat
