// Added/special tokens, BOS/EOS policy, FIM and chat-prompt tokenisation: the worked examples of
// spec §2.1, §2.3, §2.6, §4, §5 and §6.4-§6.5 (expected ids are the spec's).
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"
#include "util/error.h"

namespace whale::testing {
namespace {

using Ids = std::vector<int32_t>;

#define V3_FIXTURE_OR_SKIP() WHALE_REQUIRE_FIXTURE("tokenizer/deepseek-v3/tokenizer.json")
#define QWEN_FIXTURE_OR_SKIP() WHALE_REQUIRE_FIXTURE("tokenizer/qwen3/tokenizer.json")

Ids enc(const std::string& vocab, const std::string& text, bool bos = false, bool special = true) {
  return fixture_tokenizer(vocab).encode(text, bos, special);
}

TEST(SpecialTokens, MarkersRecognisedInRawText) {
  V3_FIXTURE_OR_SKIP();
  EXPECT_EQ(enc("deepseek-v3", "<｜User｜>hi"), (Ids{128803, 6366}));
  EXPECT_EQ(enc("deepseek-v3", "<｜place▁holder▁no▁1｜><｜place▁holder▁no▁10｜><｜place▁holder▁no▁100｜>"),
            (Ids{128001, 128010, 128100}));
}

TEST(SpecialTokens, ThinkIsATokenOnlyInR1) {
  V3_FIXTURE_OR_SKIP();
  EXPECT_EQ(enc("deepseek-v3", "<think>\n"), (Ids{30, 37947, 1018}));
  EXPECT_EQ(enc("deepseek-r1", "<think>\n"), (Ids{128798, 201}));
}

TEST(SpecialTokens, LookalikesArePlainText) {
  V3_FIXTURE_OR_SKIP();
  for (const char* t : {"<｜User", "<|User|>", "<think >", "<THINK>"})
    for (int32_t id : enc("deepseek-r1", t)) EXPECT_LT(id, 128000) << t;
}

TEST(SpecialTokens, NoSpecialsModeKeepsControlMarkersAsText) {
  V3_FIXTURE_OR_SKIP();
  const Ids ids = enc("deepseek-r1", "<｜User｜>hi<think>", false, /*special=*/false);
  for (int32_t id : ids) EXPECT_NE(id, 128803);
  // <think> is a plain (non-control) added token: still recognised, as llama.cpp does for
  // user-defined tokens.
  EXPECT_EQ(ids.back(), 128798);
  EXPECT_EQ(fixture_tokenizer("deepseek-r1").decode(ids), "<｜User｜>hi<think>");
}

TEST(SpecialTokens, DigitsAreGroupedPerFamily) {
  V3_FIXTURE_OR_SKIP();
  QWEN_FIXTURE_OR_SKIP();
  EXPECT_EQ(enc("deepseek-v3", "3333333"), (Ids{11722, 11722, 21}));
  EXPECT_EQ(enc("deepseek-v3", "1234567"), (Ids{6895, 18009, 25}));
  EXPECT_EQ(enc("qwen3", "3333333"), (Ids(7, 18)));
}

TEST(SpecialTokens, BosPolicy) {
  V3_FIXTURE_OR_SKIP();
  QWEN_FIXTURE_OR_SKIP();
  const auto& v3 = fixture_tokenizer("deepseek-v3");
  EXPECT_TRUE(v3.add_bos_default());
  EXPECT_EQ(v3.bos_id(), 0);
  EXPECT_EQ(v3.eos_id(), 1);
  EXPECT_EQ(v3.bos_text(), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(v3.eos_text(), "<｜end▁of▁sentence｜>");
  // No de-duplication (spec §2.6).
  const Ids ids = v3.encode("<｜begin▁of▁sentence｜>already", true, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[1], 0);

  const auto& qwen = fixture_tokenizer("qwen3");
  EXPECT_FALSE(qwen.add_bos_default());
  EXPECT_EQ(qwen.bos_id(), -1);
  EXPECT_EQ(qwen.eos_id(), 151645);
  EXPECT_EQ(qwen.encode("hi", true, true), qwen.encode("hi", false, true));

  const auto& distill = fixture_tokenizer("r1-distill-qwen");
  EXPECT_TRUE(distill.add_bos_default());
  EXPECT_EQ(distill.bos_id(), 151646);
  EXPECT_EQ(distill.eos_id(), 151643);
}

TEST(SpecialTokens, EndOfGeneration) {
  V3_FIXTURE_OR_SKIP();
  QWEN_FIXTURE_OR_SKIP();
  EXPECT_TRUE(fixture_tokenizer("deepseek-v3").is_eog(1));
  EXPECT_FALSE(fixture_tokenizer("deepseek-v3").is_eog(0));
  EXPECT_FALSE(fixture_tokenizer("deepseek-v3").is_eog(128804));
  EXPECT_TRUE(fixture_tokenizer("qwen3").is_eog(151645));  // <|im_end|>
  EXPECT_TRUE(fixture_tokenizer("qwen3").is_eog(151643));  // <|endoftext|>
  EXPECT_TRUE(fixture_tokenizer("r1-distill-qwen").is_eog(151643));
  EXPECT_FALSE(fixture_tokenizer("r1-distill-qwen").is_eog(151645));  // <｜Assistant｜> there
}

TEST(SpecialTokens, SpecialFlagsAndSkipOnDecode) {
  V3_FIXTURE_OR_SKIP();
  const auto& v3 = fixture_tokenizer("deepseek-v3");
  EXPECT_TRUE(v3.is_special(0));
  EXPECT_TRUE(v3.is_special(128805));   // <|EOT|>
  EXPECT_FALSE(v3.is_special(128803));  // <｜User｜> is special:false
  const Ids ids = {0, 128803, 19923, 128804, 1};
  EXPECT_EQ(v3.decode(ids, true), "<｜User｜>Hello<｜Assistant｜>");
  EXPECT_EQ(v3.find("<｜User｜>"), 128803);
  EXPECT_EQ(v3.find("no such piece"), std::nullopt);
  EXPECT_EQ(v3.token_bytes(223), " ");  // "Ġ"
}

TEST(SpecialTokens, FillInTheMiddle) {
  V3_FIXTURE_OR_SKIP();
  EXPECT_EQ(enc("deepseek-v3", "<｜fim▁begin｜>int main() {\n<｜fim▁hole｜>}\n<｜fim▁end｜>", true),
            (Ids{0, 128801, 650, 1840, 1393, 875, 128800, 1778, 128802}));
  EXPECT_EQ(enc("deepseek-v3", "<｜fim▁begin｜><｜fim▁hole｜><｜fim▁end｜>", true),
            (Ids{0, 128801, 128800, 128802}));
}

TEST(SpecialTokens, RenderedChatPrompts) {
  V3_FIXTURE_OR_SKIP();
  QWEN_FIXTURE_OR_SKIP();
  EXPECT_EQ(enc("deepseek-v3", "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜>"),
            (Ids{0, 128803, 19923, 3, 128804}));
  EXPECT_EQ(enc("deepseek-r1",
                "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is 17 * 24?"
                "<｜Assistant｜><think>\n"),
            (Ids{0, 3476, 477, 260, 11502, 22896, 16, 128803, 3085, 344, 223, 1002, 982, 223, 1173, 33,
                 128804, 128798, 201}));
  EXPECT_EQ(enc("r1-distill-qwen", "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜><think>\n"),
            (Ids{151646, 151644, 9707, 0, 151645, 151648, 198}));
}

TEST(SpecialTokens, ChatTemplateComesFromConfig) {
  V3_FIXTURE_OR_SKIP();
  QWEN_FIXTURE_OR_SKIP();
  EXPECT_EQ(fixture_tokenizer("deepseek-v3").chat_template().rfind("{% if not add_generation_prompt", 0), 0u);
  EXPECT_NE(fixture_tokenizer("qwen3").chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(fixture_tokenizer("deepseek-v3").model_kind(), "byte-level-bpe");
  EXPECT_EQ(fixture_tokenizer("deepseek-v3").pre_tokenizer(), "deepseek-v3");
  EXPECT_EQ(fixture_tokenizer("qwen3").pre_tokenizer(), "qwen2");
}

TEST(SpecialTokens, NfcInQwenFamily) {
  QWEN_FIXTURE_OR_SKIP();
  // Spec §2.2: "e\u0301" encodes like "é" and decodes to "é".
  EXPECT_EQ(enc("qwen3", "e\xCC\x81"), enc("qwen3", "\xC3\xA9"));
  EXPECT_EQ(fixture_tokenizer("qwen3").decode(enc("qwen3", "e\xCC\x81")), "\xC3\xA9");
  // DeepSeek has no normalizer: the combining mark survives.
  V3_FIXTURE_OR_SKIP();
  EXPECT_EQ(fixture_tokenizer("deepseek-v3").decode(enc("deepseek-v3", "e\xCC\x81")), "e\xCC\x81");
}

TEST(SpecialTokens, InvalidUtf8RoundTripsBytes) {
  V3_FIXTURE_OR_SKIP();
  const auto& v3 = fixture_tokenizer("deepseek-v3");
  const std::string bad = "ok\xFF\xC3 x\xF0\x9F\x90";
  const Ids ids = v3.encode(bad, false, true);
  std::string bytes;
  for (int32_t id : ids) bytes += v3.token_bytes(id);
  EXPECT_EQ(bytes, bad);
}

TEST(SpecialTokens, SentencePieceGguf) {
  WHALE_REQUIRE_FIXTURE("tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  const auto tok = tokenizer::Tokenizer::load(fixture("tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(tok->model_kind(), "sentencepiece");
  EXPECT_TRUE(tok->add_bos_default());
  // .out vectors: "Hello world" -> 15043 3186, " Hello world" -> 29871 15043 3186.
  EXPECT_EQ(tok->encode("Hello world", true, true), (Ids{1, 15043, 3186}));
  EXPECT_EQ(tok->decode(Ids{1, 15043, 3186}, true), "Hello world");
  EXPECT_EQ(tok->decode(Ids{29871, 15043, 3186}), " Hello world");
  EXPECT_EQ(tok->token_bytes(3 + 0x41), "A");  // <0x41>
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_EQ(tok->encode("", true, true), (Ids{1}));
}

TEST(SpecialTokens, LoadErrorsNameThePath) {
  try {
    tokenizer::Tokenizer::load("/nonexistent/tokenizer.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.json"), std::string::npos);
  }
  nlohmann::json tj = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}},
                       {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "x+"}}}}}};
  EXPECT_THROW(tokenizer::Tokenizer::from_hf_json(tj, nullptr, "t.json"), Error);
  tj["model"]["type"] = "Unigram";
  EXPECT_THROW(tokenizer::Tokenizer::from_hf_json(tj, nullptr, "t.json"), Error);
}

}  // namespace
}  // namespace whale::testing
