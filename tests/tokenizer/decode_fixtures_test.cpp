// decode/decode.jsonl (spec §4): whole-sequence decodes with and without special tokens, every
// prefix decode (lossy UTF-8), and the streaming decoder fed token by token.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"
#include "util/error.h"

namespace whale::testing {
namespace {

TEST(DecodeFixture, AllRowsMatchReference) {
  WHALE_REQUIRE_FIXTURE("tokenizer/decode/decode.jsonl");
  const auto rows = read_jsonl(fixture("tokenizer/decode/decode.jsonl"));
  ASSERT_GE(rows.size(), 40u);
  for (const auto& r : rows) {
    const auto& tok = fixture_tokenizer(r.at("vocab"));
    const auto ids = r.at("ids").get<std::vector<int32_t>>();
    const auto tokens = r.at("tokens").get<std::vector<std::string>>();
    const std::string what = r.value("note", r.value("source_text", ""));
    ASSERT_EQ(ids.size(), tokens.size());
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_EQ(tok.piece(ids[k]), tokens[k]) << what;
    EXPECT_EQ(tok.decode(ids, false), r.at("decode_keep_special").get<std::string>()) << what;
    EXPECT_EQ(tok.decode(ids, true), r.at("decode_skip_special").get<std::string>()) << what;
    const auto prefixes = r.at("prefix_decodes").get<std::vector<std::string>>();
    ASSERT_EQ(prefixes.size(), ids.size());
    for (size_t k = 0; k < ids.size(); ++k)
      EXPECT_EQ(tok.decode(std::span(ids.data(), k + 1)), prefixes[k]) << what << " prefix " << k;
  }
}

// Streaming: emitted text so far is always the prefix decode minus a held-back incomplete tail,
// and everything emitted plus flush() equals the whole decode.
TEST(DecodeFixture, StreamingEqualsWholeDecode) {
  WHALE_REQUIRE_FIXTURE("tokenizer/decode/decode.jsonl");
  for (const auto& r : read_jsonl(fixture("tokenizer/decode/decode.jsonl"))) {
    const auto& tok = fixture_tokenizer(r.at("vocab"));
    const auto ids = r.at("ids").get<std::vector<int32_t>>();
    const auto prefixes = r.at("prefix_decodes").get<std::vector<std::string>>();
    const std::string what = r.value("note", r.value("source_text", ""));
    for (bool skip : {false, true}) {
      tokenizer::StreamDecoder sd(tok, skip);
      std::string emitted;
      for (size_t k = 0; k < ids.size(); ++k) {
        emitted += sd.push(ids[k]);
        if (!skip) {
          // The prefix decode ends in U+FFFD for a held tail; what was emitted is a prefix of it.
          EXPECT_EQ(prefixes[k].compare(0, emitted.size(), emitted), 0) << what << " step " << k;
        }
      }
      emitted += sd.flush();
      EXPECT_EQ(emitted, r.at(skip ? "decode_skip_special" : "decode_keep_special").get<std::string>())
          << what;
    }
  }
}

TEST(DecodeFixture, WhaleEmojiStreamsOnlyWhenComplete) {
  WHALE_REQUIRE_FIXTURE("tokenizer/deepseek-v3/tokenizer.json");
  const auto& tok = fixture_tokenizer("deepseek-v3");
  tokenizer::StreamDecoder sd(tok);
  EXPECT_EQ(sd.push(66924), "");  // spec §4 example: F0 9F 90 held back
  EXPECT_EQ(sd.push(114), "\xF0\x9F\x90\xB3");
  EXPECT_EQ(sd.flush(), "");
  EXPECT_EQ(sd.push(66924), "");
  EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");  // end of generation: incomplete tail -> U+FFFD
}

TEST(DecodeFixture, OutOfRangeIdsThrow) {
  WHALE_REQUIRE_FIXTURE("tokenizer/deepseek-v3/tokenizer.json");
  const auto& tok = fixture_tokenizer("deepseek-v3");
  const std::vector<int32_t> bad = {19923, 128815};
  EXPECT_THROW(tok.decode(bad), whale::Error);
  EXPECT_THROW(tok.token_bytes(-1), whale::Error);
  EXPECT_EQ(tok.vocab_size(), 128815);
}

}  // namespace
}  // namespace whale::testing
