// Forced tool call with several functions (tool_choice "required"): over a toy vocabulary the
// output must be one of the heads, then a JSON object. Constrained random sampling must always
// give "<one of the heads><JSON object>", whatever the logits favour.
#include "sampling/tool_call_constraint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "sampling/sampler.h"
#include "sampling/schema_machine.h"
#include "sampling/schema_test_support.h"
#include "util/error.h"

namespace whale::sampling {
namespace {

const char* const kFence = "\n```json\n";

struct Vocab {
  std::vector<std::string> bytes;
  int32_t eog = -1;
  std::shared_ptr<JsonVocab> vocab;

  explicit Vocab(bool all_bytes = true) {
    if (all_bytes)
      for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t : {"get", "_weather", "get_time", "\n```", "json", "\n```json\n", "{\"",
                          "\":", "\"}", "}", "city", "Paris", "hello", "I think", "```json\n{",
                          "\n{"})
      bytes.push_back(t);
    eog = static_cast<int32_t>(bytes.size());
    bytes.push_back("");
    vocab = std::make_shared<JsonVocab>(bytes, std::vector<int32_t>{eog});
  }
  int32_t id(const std::string& s) const {
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] == s && !s.empty()) return static_cast<int32_t>(i);
    ADD_FAILURE() << "no token " << s;
    return 0;
  }
};

std::vector<std::string> heads() {
  return {std::string("get_weather") + kFence, std::string("get_time") + kFence,
          std::string("search") + kFence};
}

TEST(ToolCallConstraint, NameMustBeOneOfTheTools) {
  Vocab v;
  ToolCallConstraint c(v.vocab, heads());
  EXPECT_FALSE(c.allows(v.eog));
  EXPECT_FALSE(c.allows(v.id("hello")));
  EXPECT_FALSE(c.allows(v.id("I think")));
  EXPECT_FALSE(c.allows(v.id("{\"")));  // no arguments before a name
  EXPECT_FALSE(c.allows(v.id("x")));
  EXPECT_TRUE(c.allows(v.id("get")));
  EXPECT_TRUE(c.allows(v.id("get_time")));
  EXPECT_TRUE(c.allows(v.id("s")));
  c.accept(v.id("get"));
  EXPECT_TRUE(c.allows(v.id("_weather")));
  EXPECT_TRUE(c.allows(v.id("_")));
  EXPECT_FALSE(c.allows(v.id("get_time")));
  EXPECT_THROW(c.accept(v.id("hello")), whale::Error);
  c.accept(v.id("_weather"));
  EXPECT_FALSE(c.allows(v.id("json")));      // the fence must follow the name
  EXPECT_FALSE(c.allows(v.id("\n{")));       // spans head and arguments: refused
  EXPECT_TRUE(c.allows(v.id("\n```json\n")));
  EXPECT_FALSE(c.complete());
  c.accept(v.id("\n```json\n"));
  EXPECT_EQ(c.head_text(), std::string("get_weather") + kFence);
  // Arguments: a JSON object, then only the end.
  EXPECT_FALSE(c.allows(v.id("hello")));
  EXPECT_FALSE(c.allows(v.eog));
  for (const char* t : {"{\"", "city", "\":", "\"", "Paris", "\"}"}) {
    ASSERT_TRUE(c.allows(v.id(t))) << t;
    c.accept(v.id(t));
  }
  EXPECT_EQ(c.arguments_text(), "{\"city\":\"Paris\"}");
  EXPECT_TRUE(c.complete());
  EXPECT_FALSE(c.can_continue());
  EXPECT_TRUE(c.allows(v.eog));
  EXPECT_FALSE(c.allows(v.id("}")));
}

TEST(ToolCallConstraint, MaskAgreesWithAllows) {
  Vocab v;
  ToolCallConstraint c(v.vocab, heads());
  for (const char* t : {"", "get", "_weather"}) {
    if (*t) c.accept(v.id(t));
    std::vector<float> logits(v.bytes.size(), 0.0f);
    c.mask(logits);
    for (int32_t id = 0; id < static_cast<int32_t>(logits.size()); ++id)
      EXPECT_EQ(std::isinf(logits[id]), !c.allows(id)) << "token " << id << " after " << t;
  }
}

TEST(ToolCallConstraint, RejectsUnusableHeads) {
  Vocab v;
  EXPECT_THROW((ToolCallConstraint(v.vocab, {})), whale::Error);
  EXPECT_THROW((ToolCallConstraint(v.vocab, {"ab", "abc"})), whale::Error);  // not prefix-free
  // Without single-byte tokens only heads the multi-byte tokens can spell survive.
  Vocab few(false);
  ToolCallConstraint c(few.vocab, {std::string("get_time") + kFence, std::string("nope") + kFence});
  ASSERT_EQ(c.heads().size(), 1u);
  EXPECT_EQ(c.heads()[0], std::string("get_time") + kFence);
  EXPECT_THROW((ToolCallConstraint(few.vocab, {std::string("nope") + kFence})), whale::Error);
}

TEST(ToolCallConstraint, SamplingAlwaysGivesACallOfAGivenTool) {
  Vocab v;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  int ended = 0;
  std::set<std::string> chosen;
  for (int run = 0; run < 300; ++run) {
    SamplingParams p;
    p.seed = run;
    p.temperature = run % 5 == 0 ? 0.0f : 1.0f;
    Sampler s(p, static_cast<int64_t>(v.bytes.size()));
    ToolCallConstraint c(v.vocab, heads());
    bool done = false;
    for (int step = 0; step < 800 && !done; ++step) {
      std::vector<float> l(v.bytes.size());
      for (auto& x : l) x = noise(rng);
      // The "model" would rather chat, or end at once; closers drift up so runs finish.
      l[v.id("hello")] += 8.0f;
      l[v.id("I think")] += 8.0f;
      l[v.eog] += 6.0f;
      for (const char* closer : {"}", "\"}", "\""}) l[v.id(closer)] += 0.02f * step;
      const Sample smp = s.sample(l, &c);
      if (smp.token == v.eog) {
        ASSERT_TRUE(c.complete());
        done = true;
        break;
      }
      c.accept(smp.token);
      if (c.complete() && !c.can_continue()) done = true;
    }
    if (!done) continue;  // cut by the step limit
    ++ended;
    const std::string head = c.head_text();
    const auto hs = heads();
    ASSERT_NE(std::find(hs.begin(), hs.end(), head), hs.end()) << head;
    chosen.insert(head);
    ASSERT_TRUE(nlohmann::json::accept(c.arguments_text())) << c.arguments_text();
    EXPECT_TRUE(nlohmann::json::parse(c.arguments_text()).is_object());
  }
  EXPECT_GT(ended, 200);
  EXPECT_EQ(chosen.size(), 3u);  // every tool can be chosen
}

// Strict tools: after a head whose tool has a compiled schema the arguments follow it; the
// other heads keep "any JSON object".
TEST(ToolCallConstraint, StrictHeadsFollowTheirSchemas) {
  Vocab v;
  const nlohmann::ordered_json weather = nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"city":{"type":"string","pattern":"^[A-Z][a-z]+$"},)"
      R"("unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false})");
  const nlohmann::ordered_json search = nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"page":{"type":"integer","minimum":1,"maximum":20},)"
      R"("q":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["page","q"],"additionalProperties":false})");
  const std::vector<std::shared_ptr<const CompiledSchema>> schemas = {
      compile_schema(weather), nullptr, compile_schema(search)};
  {
    ToolCallConstraint c(v.vocab, heads(), schemas);
    for (const char* t : {"get", "_weather", "\n```json\n"}) c.accept(v.id(t));
    c.accept(v.id("{\""));
    EXPECT_FALSE(c.allows(v.id("Paris")));  // the schema wants "city" first
    EXPECT_TRUE(c.allows(v.id("city")));
    for (const char* t : {"city", "\":", "\""}) c.accept(v.id(t));
    EXPECT_FALSE(c.allows(v.id("hello")));  // the pattern wants a capital first
    EXPECT_TRUE(c.allows(v.id("Paris")));
  }
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  int strict_done = 0;
  for (int run = 0; run < 200; ++run) {
    SamplingParams p;
    p.seed = run;
    Sampler s(p, static_cast<int64_t>(v.bytes.size()));
    ToolCallConstraint c(v.vocab, heads(), schemas);
    bool done = false;
    for (int step = 0; step < 600 && !done; ++step) {
      std::vector<float> l(v.bytes.size());
      for (auto& x : l) x = noise(rng);
      l[v.id("hello")] += 8.0f;
      l[v.eog] += 6.0f;
      for (const char* closer : {"}", "\"}", "\"", ",", "\":"}) l[v.id(closer)] += 0.03f * step;
      const Sample smp = s.sample(l, &c);
      if (smp.token == v.eog) {
        ASSERT_TRUE(c.complete());
        done = true;
        break;
      }
      c.accept(smp.token);
      done = c.complete() && !c.can_continue();
    }
    if (!done) continue;
    const std::string args = c.arguments_text();
    ASSERT_TRUE(nlohmann::json::accept(args)) << args;
    const nlohmann::json parsed = nlohmann::json::parse(args);
    EXPECT_TRUE(parsed.is_object());
    const nlohmann::ordered_json* schema = c.head_text() == heads()[0] ? &weather
                                          : c.head_text() == heads()[2] ? &search : nullptr;
    if (!schema) continue;
    ++strict_done;
    std::string why;
    EXPECT_TRUE(testing::validate(*schema, parsed, *schema, why)) << c.head_text() << args << ": " << why;
  }
  EXPECT_GT(strict_done, 60);
}

TEST(ToolCallConstraint, SchemasMustMatchTheHeads) {
  Vocab v;
  EXPECT_THROW((ToolCallConstraint(v.vocab, heads(), {nullptr})), whale::Error);
}

}  // namespace
}  // namespace whale::sampling
