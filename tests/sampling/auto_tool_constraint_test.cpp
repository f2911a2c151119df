// tool_choice "auto" with strict tools: free text until the call-begin marker, then the call
// syntax with schema-valid arguments, then free again (several calls). Over a toy vocabulary
// with special marker tokens (no text bytes), in the DeepSeek-V3 and V3.1 call syntaxes.
#include "sampling/auto_tool_constraint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "sampling/sampler.h"
#include "sampling/schema_machine.h"
#include "sampling/schema_test_support.h"
#include "util/error.h"

namespace whale::sampling {
namespace {

using testing::ojson;

struct Vocab {
  std::vector<std::string> bytes;
  int32_t call_begin, sep, call_end, eog;
  std::shared_ptr<JsonVocab> vocab;
  Vocab() {
    for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t : {"function", "get", "_weather", "get_time", "\n```json\n", "\n```", "{\"",
                          "\":", "\"}", "city", "Paris", "hello", "I think"})
      bytes.push_back(t);
    // Markers: special tokens, no text.
    call_begin = static_cast<int32_t>(bytes.size());
    sep = call_begin + 1;
    call_end = call_begin + 2;
    eog = call_begin + 3;
    bytes.resize(bytes.size() + 4);
    vocab = std::make_shared<JsonVocab>(bytes, std::vector<int32_t>{eog});
  }
  int32_t id(const std::string& s) const {
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] == s && !s.empty()) return static_cast<int32_t>(i);
    ADD_FAILURE() << "no token " << s;
    return 0;
  }
};

const char* const kWeather = R"({"type":"object","properties":{"city":{"type":"string","pattern":"^[A-Z][a-z]{0,6}$"},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false})";
const char* const kTime = R"({"type":"object","properties":{"zone":{"enum":["UTC","CET"]}},"required":["zone"],"additionalProperties":false})";

AutoCallSyntax v3(const Vocab& v) {
  AutoCallSyntax s;
  s.call_begin = v.call_begin;
  s.before = {{-1, "function"}, {v.sep, ""}};
  s.heads = {"get_weather\n```json\n", "get_time\n```json\n"};
  s.after = {{-1, "\n```"}, {v.call_end, ""}};
  return s;
}

AutoCallSyntax v31(const Vocab& v) {
  AutoCallSyntax s;
  s.call_begin = v.call_begin;
  s.heads = {"get", "get_time"};  // not prefix-free: the separator token ends the name
  s.head_end = v.sep;
  s.after = {{v.call_end, ""}};
  return s;
}

std::vector<std::shared_ptr<const CompiledSchema>> schemas() {
  return {compile_schema(ojson::parse(kWeather)), compile_schema(ojson::parse(kTime))};
}

TEST(AutoToolConstraint, FreeUntilTheMarkerThenTheCallSyntax) {
  Vocab v;
  AutoToolConstraint c(v.vocab, v3(v), schemas());
  EXPECT_TRUE(c.complete());
  EXPECT_TRUE(c.allows(v.id("hello")));
  EXPECT_TRUE(c.allows(v.eog));
  c.accept(v.id("hello"));
  c.accept(v.call_begin);
  EXPECT_FALSE(c.complete());
  EXPECT_FALSE(c.allows(v.eog));
  EXPECT_FALSE(c.allows(v.id("get")));
  EXPECT_TRUE(c.allows(v.id("function")));
  EXPECT_TRUE(c.allows(v.id("f")));
  c.accept(v.id("function"));
  EXPECT_FALSE(c.allows(v.id("get")));
  EXPECT_TRUE(c.allows(v.sep));
  c.accept(v.sep);
  EXPECT_TRUE(c.allows(v.id("get")));
  EXPECT_FALSE(c.allows(v.id("hello")));
  for (const char* t : {"get", "_weather", "\n```json\n", "{\"", "city", "\":", "\"", "Paris"}) {
    ASSERT_TRUE(c.allows(v.id(t))) << t;
    c.accept(v.id(t));
  }
  EXPECT_FALSE(c.allows(v.id("\"}")));  // "days" is still missing
  for (const char* t : {"\"", ",", "\"", "d", "a", "y", "s", "\"", ":", "3", "}"}) {
    ASSERT_TRUE(c.allows(v.id(t))) << t;
    c.accept(v.id(t));
  }
  EXPECT_EQ(c.arguments_text(), R"({"city":"Paris","days":3})");
  EXPECT_FALSE(c.allows(v.call_end));
  EXPECT_FALSE(c.allows(v.eog));
  c.accept(v.id("\n```"));
  c.accept(v.call_end);
  EXPECT_TRUE(c.complete());
  EXPECT_TRUE(c.allows(v.id("hello")));
  EXPECT_THROW(AutoToolConstraint(v.vocab, v3(v), {nullptr}), whale::Error);
  AutoCallSyntax bad = v3(v);
  bad.heads = {"get", "get_time"};  // prefixes without a head-end token
  EXPECT_THROW(AutoToolConstraint(v.vocab, bad, {}), whale::Error);
}

TEST(AutoToolConstraint, MaskAgreesWithAllows) {
  Vocab v;
  AutoToolConstraint c(v.vocab, v31(v), schemas());
  for (int32_t t : {-1, v.call_begin, v.id("get"), v.sep, v.id("{\"")}) {
    if (t >= 0) c.accept(t);
    std::vector<float> logits(v.bytes.size(), 0.0f);
    c.mask(logits);
    for (int32_t id = 0; id < static_cast<int32_t>(logits.size()); ++id)
      ASSERT_EQ(std::isinf(logits[id]), !c.allows(id)) << id;
  }
}

// Sampling with a "model" that likes to chat and to open calls: every call written is
// well-formed and its arguments validate against its tool's schema.
void sample_runs(bool use_v31) {
  Vocab v;
  std::mt19937 rng(21);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  int calls_checked = 0;
  for (int run = 0; run < 150; ++run) {
    SamplingParams p;
    p.seed = run;
    Sampler s(p, static_cast<int64_t>(v.bytes.size()));
    AutoToolConstraint c(v.vocab, use_v31 ? v31(v) : v3(v), schemas());
    std::vector<int32_t> out;
    int step_in_call = 0;
    for (int step = 0; step < 1500; ++step) {
      std::vector<float> l(v.bytes.size());
      for (auto& x : l) x = noise(rng);
      l[v.id("hello")] += 3.0f;
      l[v.call_begin] += 5.0f;
      l[v.eog] += c.calls_opened() >= 2 ? 8.0f : -4.0f;
      step_in_call = c.in_call() ? step_in_call + 1 : 0;
      for (const char* closer : {"}", "\"", ","}) l[v.id(closer)] += 0.05f * step_in_call;
      const Sample smp = s.sample(l, &c);
      if (smp.token == v.eog) break;
      const bool was_in_call = c.in_call();
      c.accept(smp.token);
      out.push_back(smp.token);
      if (was_in_call && !c.in_call()) {
        // A call just closed: check its arguments.
        const std::string args = c.arguments_text();
        const bool weather = c.head_text().rfind("get_weather", 0) == 0 || c.head_text() == "get";
        const ojson schema = ojson::parse(weather ? kWeather : kTime);
        ASSERT_TRUE(nlohmann::json::accept(args)) << args;
        std::string why;
        EXPECT_TRUE(testing::validate(schema, nlohmann::json::parse(args), schema, why))
            << c.head_text() << " " << args << ": " << why;
        ++calls_checked;
      }
    }
  }
  EXPECT_GT(calls_checked, 100);
}

TEST(AutoToolConstraint, SampledCallsValidateV3) { sample_runs(false); }
TEST(AutoToolConstraint, SampledCallsValidateV31) { sample_runs(true); }

}  // namespace
}  // namespace whale::sampling
