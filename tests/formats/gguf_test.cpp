// GGUF reader and writer: round trips through the writer, hand-assembled files (spec §1 byte
// layout written out here independently of the writer), the shared fixtures, and a table of
// corruptions that must each produce a whale::Error naming the file and the item.
#include "formats/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/fixtures.h"
#include "formats/gguf_writer.h"

namespace whale::gguf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("whale_gguf_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------------------------
// Hand assembly of GGUF bytes, following the spec tables directly.

struct Bytes {
  std::vector<uint8_t> b;
  template <class T> Bytes& num(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(std::string_view s) {
    num<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const std::vector<uint8_t>& r) {
    b.insert(b.end(), r.begin(), r.end());
    return *this;
  }
};

struct RawTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type;
  uint64_t offset;
};

struct RawFile {
  std::string magic = "GGUF";
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors, n_kv;  // override the real counts
  std::vector<std::vector<uint8_t>> kvs;
  std::vector<RawTensor> tensors;
  size_t alignment = 32;
  size_t data_bytes = 0;

  std::vector<uint8_t> build() const {
    Bytes out;
    out.b.insert(out.b.end(), magic.begin(), magic.end());
    out.num<uint32_t>(version);
    out.num<uint64_t>(n_tensors.value_or(tensors.size()));
    out.num<uint64_t>(n_kv.value_or(kvs.size()));
    for (const auto& kv : kvs) out.raw(kv);
    for (const auto& t : tensors) {
      out.str(t.name).num<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) out.num<uint64_t>(n);
      out.num<uint32_t>(t.type).num<uint64_t>(t.offset);
    }
    out.b.resize(out.b.size() + (alignment - out.b.size() % alignment) % alignment, 0);
    for (size_t i = 0; i < data_bytes; ++i) out.b.push_back(static_cast<uint8_t>(i * 7 + 1));
    return out.b;
  }
};

std::vector<uint8_t> kv_u32(std::string_view key, uint32_t v) {
  return Bytes().str(key).num<uint32_t>(4).num<uint32_t>(v).b;
}
std::vector<uint8_t> kv_str(std::string_view key, std::string_view v) {
  return Bytes().str(key).num<uint32_t>(8).str(v).b;
}

// A valid file: three kv pairs, an F32 [8] tensor at 0 and an F16 [16, 2] tensor at 32, so the
// data section ends exactly at the end of the last payload (no trailing padding).
RawFile base_file() {
  RawFile f;
  f.kvs.push_back(kv_str("general.architecture", "test"));
  f.kvs.push_back(kv_u32("test.count", 7));
  f.kvs.push_back(Bytes().str("test.tokens").num<uint32_t>(9).num<uint32_t>(8).num<uint64_t>(2)
                      .str("a").str("bc").b);
  f.tensors.push_back({"a", {8}, 0, 0});
  f.tensors.push_back({"b", {16, 2}, 1, 32});
  f.data_bytes = 96;
  return f;
}

TEST(GgufReader, ParsesHandAssembledFile) {
  auto bytes = base_file().build();
  auto f = GgufFile::parse(bytes.data(), bytes.size(), "hand.gguf");
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->get<std::string>("general.architecture"), "test");
  EXPECT_EQ(f->get<uint32_t>("test.count"), 7u);
  EXPECT_EQ(f->get<int64_t>("test.count"), 7);
  EXPECT_EQ(f->get<double>("test.count"), 7.0);
  EXPECT_EQ(f->get_array<std::string>("test.tokens"), (std::vector<std::string>{"a", "bc"}));
  ASSERT_EQ(f->tensors().size(), 2u);
  const auto& b = f->tensors()[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.type, GgmlType::F16);
  EXPECT_EQ(b.n_dims, 2);
  EXPECT_EQ(b.ne, (std::array<int64_t, 4>{16, 2, 1, 1}));
  EXPECT_EQ(b.nbytes, 64u);
  // data starts at the first multiple of 32 after the tensor infos
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->data_offset() + 96, bytes.size());
  TensorView v = f->view("b");
  EXPECT_EQ(v.data, bytes.data() + f->data_offset() + 32);
  EXPECT_EQ(v.data[0], static_cast<uint8_t>(32 * 7 + 1));
  EXPECT_TRUE(f->canonical_layout());
  EXPECT_THROW(f->view("nope"), Error);
  EXPECT_THROW(f->get<uint32_t>("missing.key"), Error);
  EXPECT_THROW(f->get<uint8_t>("general.architecture"), Error);
  EXPECT_EQ(f->get_or<uint32_t>("missing.key", 5), 5u);
}

TEST(GgufReader, AcceptsVersion2AndScalarTensorAndZeroTensorsWithoutPadding) {
  RawFile f = base_file();
  f.version = 2;
  f.tensors.push_back({"scalar", {}, 0, 96});
  f.data_bytes = 100;
  auto bytes = f.build();
  auto g = GgufFile::parse(bytes.data(), bytes.size(), "v2.gguf");
  EXPECT_EQ(g->version(), 2u);
  EXPECT_EQ(g->find_tensor("scalar")->nbytes, 4u);
  EXPECT_EQ(g->find_tensor("scalar")->n_dims, 0);

  // Vocab-only files written by llama.cpp end right after the kv pairs.
  RawFile e;
  e.kvs.push_back(kv_str("general.architecture", "x"));
  auto eb = e.build();
  eb.resize(8 + 16 + e.kvs[0].size());
  auto h = GgufFile::parse(eb.data(), eb.size(), "empty.gguf");
  EXPECT_EQ(h->tensors().size(), 0u);
}

TEST(GgufReader, WarnsOnNonCanonicalButValidOffsets) {
  RawFile f = base_file();
  f.tensors[0].offset = 64;
  f.tensors[1].offset = 0;
  auto bytes = f.build();
  auto g = GgufFile::parse(bytes.data(), bytes.size(), "swap.gguf");
  EXPECT_FALSE(g->canonical_layout());
  ASSERT_FALSE(g->warnings().empty());
  EXPECT_THAT(g->warnings()[0], HasSubstr("swap.gguf"));
}

// ---------------------------------------------------------------------------------------------
// Writer round trip.

TEST(GgufWriter, RoundTripsEveryValueTypeNestedArraysAndTensors) {
  GgufWriter w(64);
  w.allow_nested_arrays(true);
  w.set_string("general.architecture", "roundtrip");
  w.set("v.u8", Value::make_uint(ValueType::UINT8, 255));
  w.set("v.i8", Value::make_int(ValueType::INT8, -128));
  w.set("v.u16", Value::make_uint(ValueType::UINT16, 65535));
  w.set("v.i16", Value::make_int(ValueType::INT16, -32768));
  w.set("v.u32", Value::make_uint(ValueType::UINT32, 4294967295u));
  w.set("v.i32", Value::make_int(ValueType::INT32, -2147483647 - 1));
  w.set("v.u64", Value::make_uint(ValueType::UINT64, 18446744073709551615ull));
  w.set("v.i64", Value::make_int(ValueType::INT64, -9223372036854775807ll - 1));
  w.set("v.f32", Value::make_float(ValueType::FLOAT32, 0.1f));
  w.set("v.f64", Value::make_float(ValueType::FLOAT64, 0.1));
  w.set_bool("v.bool", true);
  w.set_string("v.empty", "");
  w.set_string("v.utf8", "d\xC3\xA9j\xC3\xA0 \xE2\x96\x81");
  w.set_strings("v.strs", {"x", "", "yz"});
  w.set_f32s("v.f32s", {1.5f, -2.0f});
  w.set_i32s("v.i32s", {});
  w.set("v.nested", Value::make_array(ValueType::ARRAY,
                                      {Value::make_array(ValueType::UINT16,
                                                         {Value::make_uint(ValueType::UINT16, 1),
                                                          Value::make_uint(ValueType::UINT16, 2)}),
                                       Value::make_array(ValueType::STRING,
                                                         {Value::make_string("deep")})}));
  std::vector<uint8_t> q8(2 * 34);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> f32(3 * 4, 0xAB);
  w.add_tensor("q8", GgmlType::Q8_0, {64}, q8);
  w.add_tensor_ref("f32", GgmlType::F32, {3, 1}, f32.data(), f32.size());
  size_t calls = 0;
  w.add_tensor_fill("filled", GgmlType::F16, {4, 3, 2}, [&](uint8_t* dst, size_t n) {
    EXPECT_EQ(n % 8, 0u);  // whole rows of 4 F16 values
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(calls * 100 + i);
    ++calls;
  });
  const fs::path path = temp_dir() / "roundtrip.gguf";
  const uint64_t predicted = w.file_size();
  w.write(path, 16);  // tiny buffer: many chunks
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  EXPECT_EQ(fs::file_size(path), predicted);

  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->get<uint32_t>("general.alignment"), 64u);
  EXPECT_EQ(f->get<uint32_t>("general.quantization_version"), 2u);  // Q8_0 present
  EXPECT_EQ(f->get<uint8_t>("v.u8"), 255);
  EXPECT_EQ(f->find("v.u8")->type(), ValueType::UINT8);
  EXPECT_EQ(f->get<int8_t>("v.i8"), -128);
  EXPECT_EQ(f->get<uint16_t>("v.u16"), 65535);
  EXPECT_EQ(f->get<int16_t>("v.i16"), -32768);
  EXPECT_EQ(f->get<uint32_t>("v.u32"), 4294967295u);
  EXPECT_EQ(f->get<int32_t>("v.i32"), -2147483647 - 1);
  EXPECT_EQ(f->get<uint64_t>("v.u64"), 18446744073709551615ull);
  EXPECT_THROW(f->get<int64_t>("v.u64"), Error);  // does not fit
  EXPECT_EQ(f->get<int64_t>("v.i64"), -9223372036854775807ll - 1);
  EXPECT_THROW(f->get<uint32_t>("v.i8"), Error);  // negative
  EXPECT_EQ(f->get<float>("v.f32"), 0.1f);
  EXPECT_EQ(f->find("v.f32")->type(), ValueType::FLOAT32);
  EXPECT_EQ(f->get<double>("v.f64"), 0.1);
  EXPECT_EQ(f->get<bool>("v.bool"), true);
  EXPECT_EQ(f->get<std::string>("v.empty"), "");
  EXPECT_EQ(f->get<std::string>("v.utf8"), "d\xC3\xA9j\xC3\xA0 \xE2\x96\x81");
  EXPECT_EQ(f->get_array<std::string>("v.strs"), (std::vector<std::string>{"x", "", "yz"}));
  EXPECT_EQ(f->get_array<float>("v.f32s"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_TRUE(f->get_array<int32_t>("v.i32s").empty());
  EXPECT_EQ(f->find("v.i32s")->elem_type(), ValueType::INT32);
  const Value* nested = f->find("v.nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->elem_type(), ValueType::ARRAY);
  ASSERT_EQ(nested->array().size(), 2u);
  EXPECT_EQ(nested->array()[0].elem_type(), ValueType::UINT16);
  EXPECT_EQ(nested->array()[0].array()[1].as<int>(), 2);
  EXPECT_EQ(nested->array()[1].array()[0].str(), "deep");
  // metadata keeps insertion order (general.alignment is set by the constructor)
  EXPECT_EQ(f->metadata()[0].first, "general.alignment");
  EXPECT_EQ(f->metadata()[1].first, "general.architecture");
  EXPECT_EQ(f->metadata()[2].first, "v.u8");

  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_TRUE(f->canonical_layout());
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.offset % 64, 0u) << t.name;
    EXPECT_EQ((f->data_offset() + t.offset) % 64, 0u) << t.name;
  }
  TensorView tq = f->view("q8");
  EXPECT_EQ(tq.type, GgmlType::Q8_0);
  EXPECT_EQ(tq.nbytes, q8.size());
  EXPECT_EQ(0, std::memcmp(tq.data, q8.data(), q8.size()));
  const TensorInfo* tf = f->find_tensor("f32");
  EXPECT_EQ(tf->n_dims, 1);  // trailing 1 dropped
  EXPECT_EQ(0, std::memcmp(f->view(*tf).data, f32.data(), f32.size()));
  TensorView fl = f->view("filled");
  EXPECT_EQ(fl.n_dims, 3);
  EXPECT_EQ(fl.ne, (std::array<int64_t, 4>{4, 3, 2, 1}));
  EXPECT_EQ(fl.nbytes, 48u);
  EXPECT_EQ(calls, 3u);  // a 16-byte buffer takes two 8-byte rows per chunk: 6 rows, 3 calls
  EXPECT_EQ(fl.data[0], 0);
  EXPECT_EQ(fl.data[16], 100);  // the second chunk starts where the first ended
}

TEST(GgufWriter, RefusesInvalidDeclarations) {
  GgufWriter w;
  EXPECT_THROW(w.set("v.nested", Value::make_array(ValueType::ARRAY, {})), Error);
  EXPECT_THROW(w.add_tensor("q", GgmlType::Q4_0, {16}, std::vector<uint8_t>(9)), Error);
  EXPECT_THROW(w.add_tensor("x", GgmlType::F32, {4}, std::vector<uint8_t>(15)), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}, std::vector<uint8_t>(4)),
               Error);
  EXPECT_THROW(w.add_tensor("f8", GgmlType::F8_E4M3, {1}, std::vector<uint8_t>(1)), Error);
  w.add_tensor("x", GgmlType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("x", GgmlType::F32, {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(GgufWriter(48), Error);
}

TEST(GgufWriter, DefaultLayoutMatchesHandAssembly) {
  // The writer's bytes for base_file's content must equal the hand-assembled spec layout.
  GgufWriter w;
  w.set_string("general.architecture", "test");
  w.set_u32("test.count", 7);
  w.set_strings("test.tokens", {"a", "bc"});
  RawFile f = base_file();
  auto expected = f.build();
  const size_t data_start = expected.size() - 96;
  std::vector<uint8_t> a(expected.begin() + data_start, expected.begin() + data_start + 32);
  std::vector<uint8_t> b(expected.begin() + data_start + 32, expected.end());
  w.add_tensor("a", GgmlType::F32, {8}, a);
  w.add_tensor("b", GgmlType::F16, {16, 2}, b);
  EXPECT_EQ(w.write_to_memory(), expected);
}

// ---------------------------------------------------------------------------------------------
// Fixtures written by llama.cpp's tools and the spec's generators.

struct FixtureCase {
  const char* path;
  const char* arch;
  size_t n_tensors;
};

TEST(GgufFixtures, OpenWithArchitectureAndTensorCount) {
  // Tensor counts follow from each architecture's tensor list (deepseek-arch.md §3.3, §3.8):
  // llama 3 + 9/layer, qwen2 3 + 12/layer, the deepseek2 hybrid file 3 + 14 (dense layer incl.
  // attn_k_b/attn_v_b) + 2 * 19 (MoE layers); conformance.gguf holds 29 (quants/README.md).
  const FixtureCase cases[] = {
      {"models/tiny-deepseek-v3/model-f16.gguf", "deepseek2", 3 + 14 + 2 * 19},
      {"models/tiny-llama/model-f16.gguf", "llama", 3 + 3 * 9},
      {"models/tiny-qwen2/model-f16.gguf", "qwen2", 3 + 3 * 12},
      {"quants/conformance.gguf", "whale-quant-conformance", 29},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-coder.gguf", "llama", 0},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf", "llama", 0},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-gpt-2.gguf", "gpt2", 0},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", "llama", 0},
  };
  size_t seen = 0;
  for (const auto& c : cases) {
    const fs::path p = whale::testing::fixture(c.path);
    if (!fs::exists(p)) continue;
    ++seen;
    SCOPED_TRACE(c.path);
    auto f = GgufFile::open(p);
    EXPECT_EQ(f->get<std::string>("general.architecture"), c.arch);
    EXPECT_EQ(f->tensors().size(), c.n_tensors);
    EXPECT_TRUE(f->canonical_layout());
    EXPECT_EQ(f->name(), p.string());
  }
  if (seen == 0) GTEST_SKIP() << "no fixtures under " << whale::testing::fixtures_dir();
}

TEST(GgufFixtures, TinyDeepseekShapesAndKeys) {
  WHALE_REQUIRE_FIXTURE("models/tiny-deepseek-v3/model-f16.gguf");
  auto f = GgufFile::open(whale::testing::fixture("models/tiny-deepseek-v3/model-f16.gguf"));
  // Values from the fixture's config.json (hidden 256, vocab 512, kv_lora 512, rope 64, ...).
  EXPECT_EQ(f->get<uint32_t>("deepseek2.embedding_length"), 256u);
  EXPECT_EQ(f->get<uint32_t>("deepseek2.block_count"), 3u);
  EXPECT_EQ(f->get<uint32_t>("deepseek2.attention.kv_lora_rank"), 512u);
  EXPECT_EQ(f->get<uint32_t>("deepseek2.rope.dimension_count"), 64u);
  EXPECT_FLOAT_EQ(f->get<float>("deepseek2.expert_weights_scale"), 2.5f);
  EXPECT_EQ(f->get<bool>("deepseek2.expert_weights_norm"), true);
  EXPECT_EQ(f->get_array<std::string>("tokenizer.ggml.tokens").size(), 512u);
  TensorView e = f->view("token_embd.weight");
  EXPECT_EQ(e.type, GgmlType::F16);
  EXPECT_EQ(e.ne, (std::array<int64_t, 4>{256, 512, 1, 1}));
  EXPECT_EQ(e.nbytes, 256u * 512 * 2);
  TensorView kva = f->view("blk.0.attn_kv_a_mqa.weight");
  EXPECT_EQ(kva.ne[1], 512 + 64);
  TensorView exps = f->view("blk.1.ffn_gate_exps.weight");
  EXPECT_EQ(exps.ne, (std::array<int64_t, 4>{256, 128, 16, 1}));
  EXPECT_EQ(f->view("output_norm.weight").type, GgmlType::F32);
}

TEST(GgufFixtures, VocabSizes) {
  const std::pair<const char*, size_t> cases[] = {
      {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-coder.gguf", 32256},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf", 102400},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-gpt-2.gguf", 50257},
      {"tokenizer/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", 32000},
  };
  for (const auto& [rel, n] : cases) {
    if (!fs::exists(whale::testing::fixture(rel))) continue;
    auto f = GgufFile::open(whale::testing::fixture(rel));
    EXPECT_EQ(f->get_array<std::string>("tokenizer.ggml.tokens").size(), n) << rel;
  }
}

TEST(GgufFixtures, RewriteLoadsIdentically) {
  // Copy every kv and tensor of a llama.cpp-written file through the writer: the result must be
  // byte-identical, since both follow the canonical layout.
  WHALE_REQUIRE_FIXTURE("models/tiny-qwen2/model-f16.gguf");
  const fs::path src = whale::testing::fixture("models/tiny-qwen2/model-f16.gguf");
  auto f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  for (const auto& t : f->tensors()) {
    TensorView v = f->view(t);
    w.add_tensor_ref(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                     v.data, v.nbytes);
  }
  const fs::path out = temp_dir() / "qwen2-copy.gguf";
  w.write(out);
  EXPECT_EQ(read_all(out), read_all(src));
}

// ---------------------------------------------------------------------------------------------
// Corruptions: each must throw whale::Error mentioning the file and the item.

void expect_error(const std::vector<uint8_t>& bytes, const std::string& item) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "corrupt.gguf");
    ADD_FAILURE() << "no error; expected one about " << item;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("corrupt.gguf"));
    EXPECT_THAT(e.what(), HasSubstr(item));
  }
}

TEST(GgufCorruption, TruncationAtEveryOffsetThrows) {
  const auto bytes = base_file().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    SCOPED_TRACE(n);
    EXPECT_THROW(GgufFile::parse(cut.data(), cut.size(), "corrupt.gguf"), Error);
  }
}

TEST(GgufCorruption, Table) {
  struct Case {
    const char* what;
    std::function<void(RawFile&)> corrupt;
    const char* item;  // substring the message must contain
  };
  const std::string long_name(64, 'x');
  const Case cases[] = {
      {"bad magic", [](RawFile& f) { f.magic = "GGUG"; }, "magic"},
      {"version 1", [](RawFile& f) { f.version = 1; }, "version 1"},
      {"version 0", [](RawFile& f) { f.version = 0; }, "version 0"},
      {"version 4", [](RawFile& f) { f.version = 4; }, "version 4"},
      {"big endian", [](RawFile& f) { f.version = 0x03000000; }, "big-endian"},
      {"huge kv count", [](RawFile& f) { f.n_kv = uint64_t{1} << 40; }, "kv_count"},
      {"kv count > 2^63", [](RawFile& f) { f.n_kv = ~uint64_t{0}; }, "kv_count"},
      {"huge tensor count", [](RawFile& f) { f.n_tensors = uint64_t{1} << 40; }, "tensor_count"},
      {"huge key length",
       [](RawFile& f) { f.kvs[0] = Bytes().num<uint64_t>(uint64_t{1} << 62).b; }, "kv #0"},
      {"huge value string length",
       [](RawFile& f) {
         f.kvs[0] = Bytes().str("general.architecture").num<uint32_t>(8).num<uint64_t>(1000000).b;
       },
       "general.architecture"},
      {"huge array count",
       [](RawFile& f) {
         f.kvs[2] = Bytes().str("test.tokens").num<uint32_t>(9).num<uint32_t>(8)
                        .num<uint64_t>(uint64_t{1} << 29).b;
       },
       "test.tokens"},
      {"array count over 2^30",
       [](RawFile& f) {
         f.kvs[2] = Bytes().str("test.tokens").num<uint32_t>(9).num<uint32_t>(0)
                        .num<uint64_t>(uint64_t{1} << 31).b;
       },
       "test.tokens"},
      {"bad value type",
       [](RawFile& f) { f.kvs[1] = Bytes().str("test.count").num<uint32_t>(13).num<uint32_t>(7).b; },
       "type id 13"},
      {"bad array element type",
       [](RawFile& f) {
         f.kvs[2] = Bytes().str("test.tokens").num<uint32_t>(9).num<uint32_t>(99).num<uint64_t>(0).b;
       },
       "test.tokens"},
      {"bad bool",
       [](RawFile& f) { f.kvs[1] = Bytes().str("test.count").num<uint32_t>(7).num<uint8_t>(2).b; },
       "test.count"},
      {"empty key", [](RawFile& f) { f.kvs[1] = kv_u32("", 1); }, "empty key"},
      {"duplicate key", [](RawFile& f) { f.kvs[1] = kv_u32("general.architecture", 1); },
       "duplicate key"},
      {"non-UTF-8 key", [](RawFile& f) { f.kvs[1] = kv_u32("test.\xC0\xAF", 1); }, "UTF-8"},
      {"nesting too deep",
       [](RawFile& f) {
         Bytes b;
         b.str("deep").num<uint32_t>(9);
         for (int i = 0; i < 10; ++i) b.num<uint32_t>(9).num<uint64_t>(1);
         b.num<uint32_t>(0).num<uint64_t>(0);
         f.kvs[1] = b.b;
       },
       "nested"},
      {"alignment not u32",
       [](RawFile& f) { f.kvs[1] = Bytes().str("general.alignment").num<uint32_t>(10).num<uint64_t>(32).b; },
       "general.alignment"},
      {"alignment not power of two", [](RawFile& f) { f.kvs[1] = kv_u32("general.alignment", 48); },
       "general.alignment"},
      {"removed type id", [](RawFile& f) { f.tensors[1].type = 4; }, "unsupported tensor type 4"},
      {"repack type id", [](RawFile& f) { f.tensors[1].type = 32; }, "unsupported tensor type 32"},
      {"unknown type id", [](RawFile& f) { f.tensors[1].type = 99; }, "unsupported tensor type 99"},
      {"whale-only type id", [](RawFile& f) { f.tensors[1].type = 1000; }, "tensor type 1000"},
      {"ne0 not multiple of block",
       [](RawFile& f) { f.tensors[1].type = 2; f.tensors[1].ne = {16, 2}; }, "block size"},
      {"too many dims", [](RawFile& f) { f.tensors[1].ne = {1, 1, 1, 1, 64}; }, "n_dims 5"},
      {"negative dim", [](RawFile& f) { f.tensors[1].ne = {~uint64_t{0}}; }, "ne[0]"},
      {"size overflow",
       [](RawFile& f) { f.tensors[1].ne = {uint64_t{1} << 40, uint64_t{1} << 40}; }, "overflow"},
      {"offset out of range", [](RawFile& f) { f.tensors[1].offset = 4096; }, "out of file bounds"},
      {"offset misaligned", [](RawFile& f) { f.tensors[1].offset = 16; }, "alignment"},
      {"data runs past end", [](RawFile& f) { f.data_bytes = 95; }, "out of file bounds"},
      {"overlapping tensors",
       [](RawFile& f) { f.tensors[1].offset = 0; f.tensors[0].offset = 32; }, "overlaps"},
      {"duplicate tensor", [](RawFile& f) { f.tensors[1].name = "a"; }, "duplicate tensor"},
      {"empty tensor name", [](RawFile& f) { f.tensors[1].name = ""; }, "empty name"},
      {"long tensor name", [&](RawFile& f) { f.tensors[1].name = long_name; }, "64 bytes"},
      {"non-UTF-8 tensor name", [](RawFile& f) { f.tensors[1].name = "b\xFF"; }, "UTF-8"},
      {"surrogate in name", [](RawFile& f) { f.tensors[1].name = "\xED\xA0\x80"; }, "UTF-8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    RawFile f = base_file();
    c.corrupt(f);
    expect_error(f.build(), c.item);
  }
}

TEST(GgufCorruption, MissingFileAndDirectory) {
  EXPECT_THROW(GgufFile::open(temp_dir() / "does-not-exist.gguf"), Error);
  EXPECT_THROW(GgufFile::open(temp_dir()), Error);
}

}  // namespace
}  // namespace whale::gguf
