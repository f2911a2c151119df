// safetensors reader: the shared tiny-deepseek-v3 HF checkpoint (cross-checked value by value
// against the GGUF conversion of the same weights), a synthetic sharded checkpoint written
// here, and header corruptions.
#include "formats/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "formats/gguf.h"
#include "tensor/float_convert.h"

namespace whale::safetensors {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

fs::path temp_dir(const std::string& sub) {
  fs::path d = fs::temp_directory_path() /
               ("whale_st_test_" + std::to_string(::getpid())) / sub;
  fs::create_directories(d);
  return d;
}

// Assembles a safetensors file (spec §4.1): u64 header length, JSON, data buffer.
std::vector<uint8_t> make_file(const json& header, const std::vector<uint8_t>& data,
                               size_t pad_spaces = 0) {
  std::string h = header.dump() + std::string(pad_spaces, ' ');
  std::vector<uint8_t> out(8);
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

json entry(const char* dtype, std::vector<int64_t> shape, uint64_t b, uint64_t e) {
  return json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(i * 13 + 5);
  return d;
}

TEST(SafetensorsFixture, TinyDeepseekCheckpoint) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model.safetensors");
  const fs::path dir = whale::testing::fixture("models/tiny-deepseek-v3");
  auto ck = Checkpoint::open(dir);
  EXPECT_FALSE(ck->sharded());
  // 3 global + 12 (dense layer 0) + 2 * 62 (MoE layers: 9 attention/norm, router weight and
  // bias, 16 experts x 3, 3 shared) HF tensors (spec §4.4).
  EXPECT_EQ(ck->tensors().size(), 3u + 12 + 2 * 62);
  const TensorInfo& emb = ck->get("model.embed_tokens.weight");
  EXPECT_EQ(emb.dtype, Dtype::BF16);
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(emb.ne(), (std::vector<int64_t>{256, 512}));
  TensorView v = ck->view(emb);
  EXPECT_EQ(v.type, GgmlType::BF16);
  EXPECT_EQ(v.ne, (std::array<int64_t, 4>{256, 512, 1, 1}));
  EXPECT_EQ(v.nbytes, 512u * 256 * 2);
  EXPECT_FALSE(ck->is_fp8_block_scaled("model.embed_tokens.weight"));
  EXPECT_EQ(ck->scale_inv("model.embed_tokens.weight"), nullptr);
  EXPECT_THROW(ck->get("model.nope"), Error);
}

TEST(SafetensorsFixture, ValuesMatchTheGgufConversion) {
  // fixtures/README.md: the GGUF (F16) and safetensors (BF16) files hold bit-identical values.
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model.safetensors");
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model-f16.gguf");
  auto ck = Checkpoint::open(whale::testing::fixture("models/tiny-deepseek-v3/model.safetensors"));
  auto g = gguf::GgufFile::open(whale::testing::fixture("models/tiny-deepseek-v3/model-f16.gguf"));
  auto compare = [&](const std::string& hf, const std::string& gg, int64_t skip_elems) {
    SCOPED_TRACE(hf);
    TensorView a = ck->view(hf);
    TensorView b = g->view(gg);
    ASSERT_EQ(a.ne[0], b.ne[0]);
    ASSERT_EQ(a.ne[1], b.ne[1]);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < a.n_elements(); ++i) {
      uint16_t ab, bb;
      std::memcpy(&ab, a.data + 2 * i, 2);
      std::memcpy(&bb, b.data + 2 * (i + skip_elems), 2);
      if (bf16_to_f32(ab) != fp16_to_f32(bb)) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0);
  };
  compare("model.embed_tokens.weight", "token_embd.weight", 0);
  compare("model.layers.0.self_attn.kv_a_proj_with_mqa.weight", "blk.0.attn_kv_a_mqa.weight", 0);
  // Expert 3 of layer 1 is slice 3 along ne2 of the stacked GGUF tensor (spec §4.6).
  compare("model.layers.1.mlp.experts.3.gate_proj.weight", "blk.1.ffn_gate_exps.weight",
          3 * 256 * 128);
  TensorView bias = ck->view("model.layers.1.mlp.gate.e_score_correction_bias");
  TensorView gbias = g->view("blk.1.exp_probs_b.bias");
  EXPECT_EQ(bias.type, GgmlType::F32);
  ASSERT_EQ(bias.nbytes, gbias.nbytes);
  EXPECT_EQ(0, std::memcmp(bias.data, gbias.data, bias.nbytes));
}

TEST(SafetensorsSharded, IndexWithFp8AndScalePartnerInAnotherShard) {
  const fs::path dir = temp_dir("sharded");
  // shard 1: an F8_E4M3 [130, 4] weight and a BF16 norm; shard 2: the weight's scale_inv
  // [ceil(130/128), ceil(4/128)] = [2, 1] F32, an I64 and a U8 tensor.
  json h1 = {{"__metadata__", {{"format", "pt"}}},
             {"w.weight", entry("F8_E4M3", {130, 4}, 0, 520)},
             {"norm.weight", entry("BF16", {4}, 520, 528)}};
  json h2 = {{"w.weight_scale_inv", entry("F32", {2, 1}, 0, 8)},
             {"steps", entry("I64", {}, 8, 16)},
             {"mask", entry("U8", {3}, 16, 19)}};
  write_file(dir / "model-00001-of-00002.safetensors", make_file(h1, pattern(528), 5));
  write_file(dir / "model-00002-of-00002.safetensors", make_file(h2, pattern(19)));
  json index = {{"metadata", {{"total_size", 547}}},
                {"weight_map",
                 {{"w.weight", "model-00001-of-00002.safetensors"},
                  {"norm.weight", "model-00001-of-00002.safetensors"},
                  {"w.weight_scale_inv", "model-00002-of-00002.safetensors"},
                  {"steps", "model-00002-of-00002.safetensors"},
                  {"mask", "model-00002-of-00002.safetensors"}}}};
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);

  for (const fs::path& p : {dir, dir / "model.safetensors.index.json"}) {
    auto ck = Checkpoint::open(p);
    EXPECT_TRUE(ck->sharded());
    EXPECT_EQ(ck->shards().size(), 2u);
    EXPECT_EQ(ck->tensors().size(), 5u);
    EXPECT_EQ(ck->shards()[0]->metadata().at("format"), "pt");
    EXPECT_TRUE(ck->is_fp8_block_scaled("w.weight"));
    EXPECT_FALSE(ck->is_fp8_block_scaled("norm.weight"));
    const TensorInfo* s = ck->scale_inv("w.weight");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->shard, 1u);
    TensorView w = ck->view("w.weight");
    EXPECT_EQ(w.type, GgmlType::F8_E4M3);
    EXPECT_EQ(w.ne, (std::array<int64_t, 4>{4, 130, 1, 1}));
    EXPECT_EQ(w.data[0], 5);
    TensorView sv = ck->view(*s);
    EXPECT_EQ(sv.data[0], 5);  // first byte of shard 2's data buffer
    TensorView steps = ck->view("steps");
    EXPECT_EQ(steps.type, GgmlType::I64);
    EXPECT_EQ(steps.n_dims, 0);
    EXPECT_EQ(steps.n_elements(), 1);
    EXPECT_EQ(ck->get("mask").dtype, Dtype::U8);
    EXPECT_THROW(ck->view("mask"), Error);  // listed, not computable
  }
}

TEST(SafetensorsSharded, IndexErrors) {
  const fs::path dir = temp_dir("bad_index");
  write_file(dir / "a.safetensors", make_file({{"x", entry("F32", {1}, 0, 4)}}, pattern(4)));
  write_file(dir / "b.safetensors", make_file({{"x", entry("F32", {1}, 0, 4)}}, pattern(4)));
  auto expect_index_error = [&](const json& index, const std::string& item) {
    std::ofstream(dir / "model.safetensors.index.json") << index.dump();
    try {
      Checkpoint::open(dir);
      ADD_FAILURE() << "no error for " << index.dump();
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(item)) << index.dump();
    }
  };
  expect_index_error({{"weight_map", {{"x", "missing.safetensors"}}}}, "missing.safetensors");
  expect_index_error({{"weight_map", {{"y", "a.safetensors"}}}}, "tensor y");
  expect_index_error({{"weight_map", {{"x", "../a.safetensors"}}}}, "../a.safetensors");
  expect_index_error({{"weight_map", {{"x", "a.safetensors"}, {"z", "b.safetensors"}}}},
                     "also appears");
  expect_index_error({{"metadata", {}}}, "weight_map");
  EXPECT_THROW(Checkpoint::open(temp_dir("empty_folder")), Error);
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& item) {
  try {
    SafetensorsFile::parse(bytes.data(), bytes.size(), "corrupt.safetensors");
    ADD_FAILURE() << "no error; expected one about " << item;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("corrupt.safetensors"));
    EXPECT_THAT(e.what(), HasSubstr(item));
  }
}

TEST(SafetensorsCorruption, Table) {
  const json good = {{"a", entry("F16", {2, 3}, 0, 12)}, {"b", entry("F32", {2}, 12, 20)}};
  auto bytes = make_file(good, pattern(20));
  EXPECT_NO_THROW(SafetensorsFile::parse(bytes.data(), bytes.size(), "ok.safetensors"));

  // header length field itself
  auto huge = bytes;
  const uint64_t big = uint64_t{1} << 40;
  std::memcpy(huge.data(), &big, 8);
  expect_error(huge, "header length");
  auto past = bytes;
  const uint64_t more = bytes.size();
  std::memcpy(past.data(), &more, 8);
  expect_error(past, "header length");
  expect_error(std::vector<uint8_t>{1, 2, 3}, "8-byte");

  struct Case {
    const char* what;
    json header;
    const char* item;
  };
  const Case cases[] = {
      {"unknown dtype", {{"a", entry("F4", {2}, 0, 1)}}, "unknown dtype"},
      {"begin > end", {{"a", entry("F32", {1}, 8, 4)}}, "begin > end"},
      {"past the end", {{"a", entry("F32", {6}, 0, 24)}}, "past the end"},
      {"size mismatch", {{"a", entry("F32", {3}, 0, 8)}}, "needs 12"},
      {"overlap", {{"a", entry("F32", {3}, 0, 12)}, {"b", entry("F32", {2}, 8, 16)}}, "overlap"},
      {"negative dim", {{"a", json{{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}},
       "tensor a"},
      {"overflowing shape",
       {{"a", json{{"dtype", "F32"}, {"shape", {1ll << 40, 1ll << 40}}, {"data_offsets", {0, 4}}}}},
       "overflows"},
      {"shape not array", {{"a", json{{"dtype", "F32"}, {"shape", 3}, {"data_offsets", {0, 4}}}}},
       "shape"},
      {"missing offsets", {{"a", json{{"dtype", "F32"}, {"shape", {1}}}}}, "data_offsets"},
      {"entry not object", {{"a", 5}}, "tensor a"},
      {"metadata not strings", {{"__metadata__", {{"k", 1}}}}, "__metadata__"},
      {"header not object", json::array({1, 2}), "header"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    expect_error(make_file(c.header, pattern(20)), c.item);
  }
  // Invalid JSON and non-UTF-8 names.
  std::vector<uint8_t> bad = {4, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '}'};
  expect_error(bad, "JSON");
  std::string nonutf = R"({"a\xff": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  std::vector<uint8_t> nb(8);
  const uint64_t nl = nonutf.size();
  std::memcpy(nb.data(), &nl, 8);
  nb.insert(nb.end(), nonutf.begin(), nonutf.end());
  nb.push_back(0);
  expect_error(nb, "JSON");
}

TEST(SafetensorsCorruption, TruncationAtEveryOffsetThrows) {
  const json h = {{"a", entry("F16", {2, 3}, 0, 12)}, {"b", entry("F32", {2}, 12, 20)}};
  auto bytes = make_file(h, pattern(20));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_THROW(SafetensorsFile::parse(cut.data(), cut.size(), "cut.safetensors"), Error) << n;
  }
}

}  // namespace
}  // namespace whale::safetensors
