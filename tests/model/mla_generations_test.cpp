// The three GGUF generations of MLA tensors (spec deepseek-arch.md §3.2, §3.4) give the same
// logits: the fixture (hybrid: kv_b + 2-D k_b/v_b) is rewritten as a legacy file (kv_b only) and
// as an MQA-form file (3-D k_b/v_b only, with the *_mla head-size keys), and all three are run.
// Also: a missing tensor and an unsupported architecture fail with messages naming them.
#include <gtest/gtest.h>

#include <cmath>

#include "common/fixtures.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/model.h"
#include "util/error.h"

namespace whale::model {
namespace {

const char* kFixture = "models/tiny-deepseek-v3/model-f16.gguf";

enum class Generation { kLegacy, kMqa, kMissingOutputProj, kBadArch };

std::filesystem::path rewrite(Generation g) {
  auto src = gguf::GgufFile::open(testing::fixture(kFixture));
  gguf::GgufWriter w;
  const int H = src->get<int>("deepseek2.attention.head_count");
  for (const auto& [k, v] : src->metadata()) {
    if (g == Generation::kBadArch && k == "general.architecture") w.set(k, gguf::Value::make_string("mamba9"));
    else w.set(k, v);
  }
  if (g == Generation::kMqa) {
    const int R = src->get<int>("deepseek2.attention.kv_lora_rank");
    const int rope = src->get<int>("deepseek2.rope.dimension_count");
    const int klen = src->get<int>("deepseek2.attention.key_length");
    const int vlen = src->get<int>("deepseek2.attention.value_length");
    w.set_u32("deepseek2.attention.head_count_kv", 1);
    w.set_u32("deepseek2.attention.key_length", R + rope);
    w.set_u32("deepseek2.attention.value_length", R);
    w.set_u32("deepseek2.attention.key_length_mla", klen);
    w.set_u32("deepseek2.attention.value_length_mla", vlen);
  }
  for (const auto& t : src->tensors()) {
    const bool is_kb = t.name.find("attn_k_b") != std::string::npos;
    const bool is_vb = t.name.find("attn_v_b") != std::string::npos;
    const bool is_kvb = t.name.find("attn_kv_b") != std::string::npos;
    if (g == Generation::kLegacy && (is_kb || is_vb)) continue;
    if (g == Generation::kMqa && is_kvb) continue;
    if (g == Generation::kMissingOutputProj && t.name == "blk.1.attn_output.weight") continue;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    if (g == Generation::kMqa && (is_kb || is_vb) && t.n_dims == 2) ne = {t.ne[0], t.ne[1] / H, H};
    const TensorView v = src->view(t);
    std::vector<uint8_t> bytes(v.data, v.data + v.nbytes);
    w.add_tensor(t.name, t.type, ne, std::move(bytes));
  }
  auto out = std::filesystem::temp_directory_path() /
             ("whale_mla_gen_" + std::to_string(static_cast<int>(g)) + "_" + std::to_string(::getpid()) + ".gguf");
  w.write(out);
  return out;
}

std::vector<float> prompt_logits(const std::filesystem::path& p, const std::vector<int32_t>& prompt) {
  ThreadPool pool(2);
  auto m = load_model(p, pool);
  KvPool kv(m->info().kv_layout, KvType::F32, 2);
  std::vector<int32_t> blocks = {kv.allocate()};
  std::vector<float> logits;
  SeqStep st{prompt, 0, blocks, true};
  m->forward({&st, 1}, kv, logits);
  return logits;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, double(std::fabs(a[i] - b[i])));
  return w;
}

TEST(MlaGenerations, LegacyHybridAndMqaFormAgree) {
  WHALE_REQUIRE_FIXTURE(kFixture);
  const std::vector<int32_t> prompt = {1, 207, 39, 38, 384, 281, 509, 9, 281, 382, 17, 200};
  auto hybrid = prompt_logits(testing::fixture(kFixture), prompt);
  auto legacy_path = rewrite(Generation::kLegacy);
  auto mqa_path = rewrite(Generation::kMqa);
  auto legacy = prompt_logits(legacy_path, prompt);
  auto mqa = prompt_logits(mqa_path, prompt);
  std::filesystem::remove(legacy_path);
  std::filesystem::remove(mqa_path);
  ASSERT_EQ(hybrid.size(), legacy.size());
  ASSERT_EQ(hybrid.size(), mqa.size());
  EXPECT_EQ(max_diff(hybrid, mqa), 0.0) << "MQA-form views the same bytes";
  EXPECT_LE(max_diff(hybrid, legacy), 1e-4) << "legacy transposes kv_b at load";
}

TEST(MlaGenerations, MissingTensorAndUnknownArchitectureNameTheProblem) {
  WHALE_REQUIRE_FIXTURE(kFixture);
  ThreadPool pool(1);
  auto missing = rewrite(Generation::kMissingOutputProj);
  try {
    load_model(missing, pool);
    ADD_FAILURE() << "loaded a model without blk.1.attn_output.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.attn_output.weight"), std::string::npos) << e.what();
  }
  std::filesystem::remove(missing);
  auto bad = rewrite(Generation::kBadArch);
  try {
    load_model(bad, pool);
    ADD_FAILURE() << "loaded an unknown architecture";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mamba9"), std::string::npos) << e.what();
  }
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace whale::model
