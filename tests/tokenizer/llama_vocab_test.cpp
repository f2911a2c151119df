// llama.cpp's tokenizer test vectors (fixtures llama.cpp-vocab/*.inp/.out): plain encoding, no
// BOS, added tokens matched (spec §7). qwen2's vectors run against qwen3/tokenizer.json (same base
// BPE, per the fixture README); llama-bpe has no vocab file, so it only checks the inputs parse.
#include <gtest/gtest.h>

#include <sstream>

#include "formats/gguf.h"
#include "tokenizer_fixtures.h"

namespace whale::testing {
namespace {

std::vector<std::string> read_inputs(const std::filesystem::path& p) {
  const std::string all = read_all(p);
  static const std::string kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t e = all.find(kSep, pos);
    if (e == std::string::npos) break;
    out.push_back(all.substr(pos, e - pos));
    pos = e + kSep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::filesystem::path& p) {
  std::vector<std::vector<int32_t>> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ss >> id) ids.push_back(id);
    out.push_back(ids);
  }
  return out;
}

void check_vectors(const tokenizer::Tokenizer& tok, const std::string& name) {
  const auto dir = fixture("tokenizer/llama.cpp-vocab");
  const auto inputs = read_inputs(dir / ("ggml-vocab-" + name + ".gguf.inp"));
  const auto outputs = read_outputs(dir / ("ggml-vocab-" + name + ".gguf.out"));
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(outputs.size(), inputs.size());
  int ok = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto got = tok.encode(inputs[i], /*add_bos=*/false, /*parse_special=*/true);
    EXPECT_EQ(got, outputs[i]) << name << " #" << i << " text=" << nlohmann::json(inputs[i]).dump()
                               << "\n got  " << ids_str(got) << "\n want " << ids_str(outputs[i]);
    ok += got == outputs[i];
  }
  EXPECT_EQ(ok, 46);
}

class LlamaVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaVocab, MatchesReferenceVectors) {
  const std::string name = GetParam();
  const std::string rel = "tokenizer/llama.cpp-vocab/ggml-vocab-" + name + ".gguf";
  WHALE_REQUIRE_FIXTURE(rel);
  const auto file = gguf::GgufFile::open(fixture(rel));
  const auto tok = tokenizer::Tokenizer::from_gguf(*file);
  check_vectors(*tok, name);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaVocab,
                         ::testing::Values("deepseek-llm", "deepseek-coder", "gpt-2", "llama-spm"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

TEST(LlamaVocab, Qwen2VectorsWithQwen3TokenizerJson) {
  WHALE_REQUIRE_FIXTURE("tokenizer/qwen3/tokenizer.json");
  check_vectors(fixture_tokenizer("qwen3"), "qwen2");
}

}  // namespace
}  // namespace whale::testing
