// End-to-end: `whale tokenize` / `whale detokenize` against fixture vocabularies. Expected ids
// come from the fixtures (spec §2.1 examples and llama.cpp test vectors), not from whale.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "common/fixtures.h"
#include "common/run_whale.h"

namespace {

using whale::testing::fixture;

whale::testing::RunResult run(const std::string& args) { return whale::testing::run_whale_cmdline(args); }

std::string quote(const std::string& s) { return "'" + s + "'"; }

const char* kV3 = "tokenizer/deepseek-v3";

TEST(TokenizeCli, PlainIdsWithBosByDefault) {
  WHALE_REQUIRE_FIXTURE(kV3);
  // Spec §2.3: "3333333" -> [11722, 11722, 21]; V3 adds BOS 0 by default (§2.6).
  auto r = run("tokenize -m " + quote(fixture(kV3).string()) + " --text 3333333");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "0 11722 11722 21\n");
  r = run("tokenize -m " + quote(fixture(kV3).string()) + " --text 3333333 --no-bos --json");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "[11722,11722,21]\n");
}

TEST(TokenizeCli, SpecialFlagParsesMarkers) {
  WHALE_REQUIRE_FIXTURE(kV3);
  const std::string text = "<\xEF\xBD\x9CUser\xEF\xBD\x9C>hi";  // "<｜User｜>hi" -> [128803, 6366]
  auto r = run("tokenize -m " + quote(fixture(kV3).string()) + " --no-bos --special --text " +
               quote(text));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "128803 6366\n");
  // Without --special the marker is plain text: more than two tokens, no 128803.
  r = run("tokenize -m " + quote(fixture(kV3).string()) + " --no-bos --text " + quote(text));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find("128803"), std::string::npos) << r.out;
}

TEST(TokenizeCli, VerboseShowsPieces) {
  WHALE_REQUIRE_FIXTURE(kV3);
  // decode.jsonl: "🐳" = [66924, 114] with pieces "ðŁĲ", "³".
  auto r = run("tokenize -m " + quote(fixture(kV3).string()) +
               " --no-bos --verbose --text " + quote("\xF0\x9F\x90\xB3"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "66924\t\"\xC3\xB0\xC5\x81\xC4\xB2\"\n114\t\"\xC2\xB3\"\n");
}

TEST(TokenizeCli, TextFileIsReadExactly) {
  WHALE_REQUIRE_FIXTURE("tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  // llama-spm: "Hello world" -> 15043 3186 and "\n" handling via the .inp/.out vectors; here a
  // file with a trailing newline must keep it (SentencePiece encodes "\n" as <0x0A> = 13).
  const std::string path = std::string(WHALE_BUILD_DIR) + "/tokenize_cli_input.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "Hello world\n";
  }
  auto r = run("tokenize -m " +
               quote(fixture("tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf").string()) +
               " --text-file " + quote(path));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "1 15043 3186 13\n");
}

TEST(DetokenizeCli, PrintsText) {
  WHALE_REQUIRE_FIXTURE(kV3);
  // decode.jsonl "Hello, world!" = [19923, 14, 2058, 3].
  auto r = run("detokenize -m " + quote(fixture(kV3).string()) + " --ids 19923,14,2058,3");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "Hello, world!\n");
}

TEST(TokenizeCli, ErrorsExitNonZero) {
  EXPECT_NE(run("tokenize -m /nonexistent/model.gguf --text hi").exit_code, 0);
  WHALE_REQUIRE_FIXTURE(kV3);
  EXPECT_NE(run("detokenize -m " + quote(fixture(kV3).string()) + " --ids 999999999").exit_code, 0);
  EXPECT_NE(run("tokenize -m " + quote(fixture(kV3).string())).exit_code, 0);  // no text
}

}  // namespace
