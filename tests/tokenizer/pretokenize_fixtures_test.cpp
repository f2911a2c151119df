// pretokenize.jsonl (spec §2.3): the regex pre-tokenizer splits of deepseek-v3 and qwen3.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"

namespace whale::testing {
namespace {

class PretokenizeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(PretokenizeFixture, AllRowsMatchReference) {
  const std::string vocab = GetParam();
  WHALE_REQUIRE_FIXTURE("tokenizer/" + vocab + "/pretokenize.jsonl");
  const auto& tok = fixture_tokenizer(vocab);
  const auto rows = read_jsonl(fixture("tokenizer/" + vocab + "/pretokenize.jsonl"));
  ASSERT_GE(rows.size(), 100u);
  int ok = 0;
  for (const auto& r : rows) {
    const auto want = r.at("pieces").get<std::vector<std::string>>();
    const auto got = tok.pre_tokenize(r.at("text").get<std::string>());
    EXPECT_EQ(got, want) << vocab << " text=" << r.at("text").dump();
    ok += got == want;
  }
  EXPECT_EQ(ok, static_cast<int>(rows.size()));
}

INSTANTIATE_TEST_SUITE_P(Vocabs, PretokenizeFixture, ::testing::Values("deepseek-v3", "qwen3"),
                         [](const auto& info) {
                           return info.param == "qwen3" ? std::string("qwen3")
                                                        : std::string("deepseek_v3");
                         });

}  // namespace
}  // namespace whale::testing
