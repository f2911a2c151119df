// Prompt tokens (SeqStep::prompt) may take the kernels' prefill numerics (bf16 tile products on
// AMX CPUs); sampled tokens never do. Whatever the CPU, a sequence's logits must depend only on
// its own steps, not on the other sequences in the batch or their order: the server promises
// that concurrent greedy requests equal their one-at-a-time outputs. Runs on a quantised
// synthetic model (the float fixtures never take the tile path).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "util/thread_pool.h"

namespace whale::model {
namespace {

struct Seq {
  std::vector<int32_t> blocks;
  std::vector<int32_t> tokens;
};

Seq make_seq(KvPool& kv, int n_tokens, int salt, int64_t vocab) {
  Seq s;
  for (int i = 0; i < n_tokens; ++i) s.tokens.push_back(static_cast<int32_t>((i * 31 + salt * 17 + 5) % vocab));
  while (static_cast<int>(s.blocks.size()) * KvPool::kBlockTokens < n_tokens) s.blocks.push_back(kv.allocate());
  return s;
}

class PromptNumerics : public ::testing::Test {
 protected:
  void SetUp() override {
    // One file per test and process: CTest runs this fixture's tests concurrently.
    path_ = std::filesystem::temp_directory_path() /
            (std::string("whale_prompt_numerics_q4km_") + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
             "_" + std::to_string(::getpid()) + ".gguf");
    SynthOptions o;
    o.shape = synth_shape("tiny-v3");
    o.mix = SynthMix::kQ4_K_M;
    o.seed = 9;
    write_synthetic_model(o, path_);
    model_ = load_model(path_, pool_);
  }
  void TearDown() override {
    model_.reset();
    std::filesystem::remove(path_);
  }
  std::filesystem::path path_;
  ThreadPool pool_{2};
  std::unique_ptr<Model> model_;
};

// With either cache type: F16 (sampled tokens' attention on exact f32 tiles) and BF16 (on the
// decode tile products, mla_attention_decode, wherever the CPU has them).
void expect_batch_invariance(Model& model, KvType kv_type) {
  SCOPED_TRACE(std::string("KV ") + std::string(kv_type_name(kv_type)));
  Model* model_ = &model;
  const int64_t V = model_->info().vocab_size;
  KvPool kv(model_->info().kv_layout, kv_type, 64);
  // A: a prompt step of 40 tokens (all logits); B, C: sequences with a history, decoding one
  // token; D: a second prompt.
  Seq a = make_seq(kv, 40, 1, V), b = make_seq(kv, 30, 2, V), c = make_seq(kv, 12, 3, V), d = make_seq(kv, 25, 4, V);
  for (Seq* s : {&b, &c}) {  // their histories, as prompts
    SeqStep st{{s->tokens.data(), s->tokens.size() - 1}, 0, s->blocks, false, true};
    std::vector<float> ignored;
    model_->forward({&st, 1}, kv, ignored);
  }
  const SeqStep pa{a.tokens, 0, a.blocks, true, true};
  const SeqStep pd{d.tokens, 0, d.blocks, false, true};
  const SeqStep sb{{&b.tokens.back(), 1}, 29, b.blocks, false, false};
  const SeqStep sc{{&c.tokens.back(), 1}, 11, c.blocks, false, false};

  auto run = [&](std::vector<SeqStep> batch) {
    std::vector<float> logits;
    model_->forward(batch, kv, logits);  // rewrites the same KV slots with the same values
    return logits;
  };
  const std::vector<float> a_alone = run({pa}), b_alone = run({sb}), c_alone = run({sc}), d_alone = run({pd});
  ASSERT_EQ(a_alone.size(), static_cast<size_t>(40 * V));

  // Mixed batches in two orders: prompts first, and sampled tokens first.
  for (const auto& order : {std::vector<SeqStep>{pa, sb, pd, sc}, std::vector<SeqStep>{sb, sc, pd, pa}}) {
    const std::vector<float> got = run(order);
    ASSERT_EQ(got.size(), static_cast<size_t>((40 + 3) * V));
    // Logit rows follow the batch's order.
    size_t off = 0;
    for (const SeqStep& st : order) {
      const std::vector<float>& want = st.block_table.data() == a.blocks.data() ? a_alone
                                       : st.block_table.data() == b.blocks.data() ? b_alone
                                       : st.block_table.data() == c.blocks.data() ? c_alone
                                                                                 : d_alone;
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(got[off + i], want[i]) << "batch entry at logit offset " << off << ", value " << i;
      off += want.size();
    }
  }
}

TEST_F(PromptNumerics, LogitsDependOnTheSequenceNotTheBatch) {
  expect_batch_invariance(*model_, KvType::F16);
  expect_batch_invariance(*model_, KvType::BF16);
}

// A quantised MLA model prefers the bf16 cache exactly where its attention runs on tiles.
TEST_F(PromptNumerics, PreferredKvTypeFollowsTheTileProducts) {
  EXPECT_EQ(model_->info().preferred_kv, kernels::prompt_tile_products() ? KvType::BF16 : KvType::F16);
}

}  // namespace
}  // namespace whale::model
