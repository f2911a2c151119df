// JSON mode through the engine: a byte-level fake vocabulary, the JSON constraint, batched
// sampling. Every request that stops on its own holds a JSON object; none fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/fake_model.h"
#include "engine_test_util.h"
#include "sampling/json_constraint.h"

namespace whale::engine {
namespace {

TEST(JsonMode, ConstrainedRequestsEndInValidJson) {
  testing::FakeModel model(257);  // bytes 0..255, then the EOG id 256
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
  bytes.push_back("");
  auto vocab = std::make_shared<sampling::JsonVocab>(bytes, std::vector<int32_t>{256});
  EngineOptions o;
  o.max_parallel = 8;
  o.kv_type = model::KvType::F32;
  auto engine = make_engine(model, std::vector<int32_t>{256}, o);
  std::vector<std::shared_ptr<sampling::JsonConstraint>> constraints;
  std::vector<std::shared_ptr<Stream>> streams;
  for (int i = 0; i < 16; ++i) {
    GenerateRequest r;
    r.prompt = {1, 2, 3, i};
    r.sampling.temperature = i % 2 ? 1.0f : 0.0f;
    r.sampling.seed = i;
    r.max_tokens = 400;
    auto c = std::make_shared<sampling::JsonConstraint>(vocab);
    r.constraint = c;
    constraints.push_back(c);
    streams.push_back(engine->submit(r));
  }
  int stopped = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const auto tokens = collect(*streams[i]);
    std::string text;
    for (int32_t t : tokens) text += bytes[t];
    EXPECT_EQ(text, constraints[i]->text());
    const FinishReason why = streams[i]->finish_reason();
    ASSERT_TRUE(why == FinishReason::kStop || why == FinishReason::kLength)
        << static_cast<int>(why) << " " << streams[i]->error();
    if (why == FinishReason::kStop) {
      ++stopped;
      ASSERT_TRUE(nlohmann::json::accept(text)) << text;
      EXPECT_TRUE(nlohmann::json::parse(text).is_object());
    } else {
      EXPECT_EQ(tokens.size(), 400u);
    }
  }
  std::printf("json mode: %d of 16 requests completed their object within 400 tokens\n", stopped);
}

}  // namespace
}  // namespace whale::engine
