// Every encode.jsonl row of the four fixture vocabularies (spec §7 "Fixture acceptance"):
// ids equal the reference, and decoding gives back the text (or `decoded`, for NFC rows).
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"

namespace whale::testing {
namespace {

class EncodeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(EncodeFixture, AllRowsMatchReference) {
  const std::string vocab = GetParam();
  WHALE_REQUIRE_FIXTURE("tokenizer/" + vocab + "/encode.jsonl");
  const auto& tok = fixture_tokenizer(vocab);
  const auto rows = read_jsonl(fixture("tokenizer/" + vocab + "/encode.jsonl"));
  ASSERT_GE(rows.size(), 300u);
  int ok = 0, n_special = 0;
  for (const auto& r : rows) {
    const std::string text = r.at("text");
    const bool add_special = r.at("add_special_tokens");
    n_special += add_special;
    const std::vector<int32_t> want = r.at("ids").get<std::vector<int32_t>>();
    const auto got = tok.encode(text, add_special && tok.add_bos_default(), /*parse_special=*/true);
    EXPECT_EQ(got, want) << vocab << " tag=" << r.value("tag", "") << " text=" << r.at("text").dump()
                         << "\n got  " << ids_str(got) << "\n want " << ids_str(want);
    const std::string back = r.contains("decoded") ? r.at("decoded").get<std::string>() : text;
    // The decode check applies to the id list without the BOS (its text is not in `text`).
    std::vector<int32_t> body = want;
    if (add_special && !body.empty() && body[0] == tok.bos_id() && tok.add_bos_default())
      body.erase(body.begin());
    EXPECT_EQ(tok.decode(body), back) << vocab << " decode of " << r.at("text").dump();
    ok += got == want;
  }
  EXPECT_EQ(n_special, 8);
  EXPECT_EQ(ok, static_cast<int>(rows.size()));
}

INSTANTIATE_TEST_SUITE_P(Vocabs, EncodeFixture,
                         ::testing::Values("deepseek-v3", "deepseek-r1", "qwen3", "r1-distill-qwen"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace whale::testing
