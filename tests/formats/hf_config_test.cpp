// config.json parsing: the fixture's DeepSeek-V3-shaped config, the V3 / V2-Lite / distill
// variants of spec deepseek-arch.md §1 and §4.3, and type errors.
#include "formats/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "util/error.h"

namespace whale::formats {
namespace {

using ::testing::HasSubstr;

TEST(HfConfig, TinyDeepseekFixture) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/config.json");
  // Numbers from fixtures/README.md: q_lora 192, kv_lora 512, rope 64, YaRN factor 40 /
  // original 4096 / mscale 1.0, 1 dense + 2 MoE layers, 16 experts, 4 active, 1 shared,
  // sigmoid, 4 groups / 2 kept, top-k normalisation, route scale 2.5.
  HfConfig c = load_hf_config(whale::testing::fixture("models/tiny-deepseek-v3"));
  EXPECT_EQ(c.architectures, std::vector<std::string>{"DeepseekV3ForCausalLM"});
  EXPECT_EQ(c.model_type, "deepseek_v3");
  EXPECT_TRUE(c.is_deepseek_mla());
  EXPECT_EQ(c.q_lora_rank, 192);
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.qk_rope_head_dim, 64);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.n_routed_experts, 16);
  EXPECT_EQ(c.num_experts_per_tok, 4);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_EQ(c.n_group, 4);
  EXPECT_EQ(c.topk_group, 2);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 40);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(*c.rope_scaling->mscale_all_dim, 1.0);
  EXPECT_FALSE(c.quantization_config);
  EXPECT_EQ(c.raw["hidden_act"], "silu");
}

TEST(HfConfig, DeepseekV3WithFp8AndV2LiteNullQLora) {
  // V3 values from spec §1.1 / §4.3.
  const std::string v3 = R"({
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
    "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
    "moe_intermediate_size": 2048, "num_hidden_layers": 61, "first_k_dense_replace": 3,
    "num_attention_heads": 128, "num_key_value_heads": 128, "n_routed_experts": 256,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "n_group": 8, "topk_group": 4,
    "topk_method": "noaux_tc", "scoring_func": "sigmoid", "routed_scaling_factor": 2.5,
    "norm_topk_prob": true, "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "v_head_dim": 128, "rope_theta": 10000, "moe_layer_freq": 1,
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                     "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
    "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "bos_token_id": 0,
    "eos_token_id": 1, "tie_word_embeddings": false, "num_nextn_predict_layers": 1,
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                            "weight_block_size": [128, 128], "scale_fmt": "ue8m0"}})";
  HfConfig c = parse_hf_config(v3, "v3.json");
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{1});
  ASSERT_TRUE(c.quantization_config);
  EXPECT_EQ(c.quantization_config->quant_method, "fp8");
  EXPECT_EQ(c.quantization_config->weight_block_size, (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(c.quantization_config->scale_fmt, "ue8m0");

  const std::string lite = R"({"model_type": "deepseek_v2", "vocab_size": 102400,
    "hidden_size": 2048, "num_hidden_layers": 27, "num_attention_heads": 16,
    "q_lora_rank": null, "kv_lora_rank": 512, "n_routed_experts": 64,
    "num_experts_per_tok": 6, "n_group": 1, "topk_group": 1,
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                     "mscale": 0.707, "mscale_all_dim": 0.707}})";
  HfConfig l = parse_hf_config(lite, "lite.json");
  EXPECT_EQ(l.q_lora_rank, 0);
  EXPECT_DOUBLE_EQ(*l.rope_scaling->mscale_all_dim, 0.707);
  EXPECT_DOUBLE_EQ(l.rope_scaling->beta_fast, 32);  // default
  EXPECT_EQ(l.num_key_value_heads, 16);             // defaults to the head count
}

TEST(HfConfig, DistillsAndRopeParameters) {
  // R1-Distill-Llama-8B shape (spec §1.2) with Llama-3 scaling and an eos list.
  const std::string llama = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "rope_theta": 500000.0, "rms_norm_eps": 1e-05, "eos_token_id": [128001, 128008],
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})";
  HfConfig c = parse_hf_config(llama, "llama.json");
  EXPECT_FALSE(c.is_deepseek_mla());
  EXPECT_EQ(c.dense_head_dim(), 128);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008}));
  EXPECT_EQ(c.rope_scaling->type, "llama3");
  EXPECT_DOUBLE_EQ(*c.rope_scaling->high_freq_factor, 4.0);

  const std::string params = R"({"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
    "num_attention_heads": 2, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6,
    "factor": 4, "original_max_position_embeddings": 2048}})";
  HfConfig p = parse_hf_config(params, "params.json");
  EXPECT_DOUBLE_EQ(p.rope_theta, 1e6);
  ASSERT_TRUE(p.rope_scaling);
  EXPECT_EQ(p.rope_scaling->type, "yarn");
  EXPECT_DOUBLE_EQ(p.rope_scaling->factor, 4);
}

TEST(HfConfig, Errors) {
  const std::string base = R"("vocab_size": 10, "num_hidden_layers": 1, "num_attention_heads": 2)";
  auto expect = [](const std::string& text, const std::string& item) {
    try {
      parse_hf_config(text, "bad-config.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("bad-config.json")) << text;
      EXPECT_THAT(e.what(), HasSubstr(item)) << text;
    }
  };
  expect("{" + base + "}", "hidden_size");
  expect(R"({"hidden_size": "8", )" + base + "}", "hidden_size");
  expect(R"({"hidden_size": 8.5, )" + base + "}", "hidden_size");
  expect(R"({"hidden_size": -8, )" + base + "}", "hidden_size");
  expect(R"({"hidden_size": 8, "kv_lora_rank": true, )" + base + "}", "kv_lora_rank");
  expect(R"({"hidden_size": 8, "norm_topk_prob": 1, )" + base + "}", "norm_topk_prob");
  expect(R"({"hidden_size": 8, "rope_scaling": {"factor": "x"}, )" + base + "}",
         "rope_scaling.factor");
  expect(R"({"hidden_size": 8, "n_group": 2, "topk_group": 3, )" + base + "}", "topk_group");
  expect(R"({"hidden_size": 8, "quantization_config": {"weight_block_size": [0]}, )" + base + "}",
         "weight_block_size");
  expect("{not json", "JSON");
  expect("[1]", "object");
  EXPECT_THROW(load_hf_config("/nonexistent/config.json"), Error);
}

}  // namespace
}  // namespace whale::formats
