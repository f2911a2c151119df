// JSON mode over a toy vocabulary: all 256 single bytes, multi-byte tokens that span structure,
// an end-of-generation id and a special token without bytes. Constrained random sampling must
// always give text that nlohmann::json accepts as an object.
#include "sampling/json_constraint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "sampling/sampler.h"
#include "util/error.h"

namespace whale::sampling {
namespace {

struct ToyVocab {
  std::vector<std::string> bytes;
  int32_t eog = -1;
  int32_t special = -1;
  std::shared_ptr<JsonVocab> vocab;

  ToyVocab() {
    for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t : {"{\"", "\":", "\":\"", "\",\"", "\"}", "\"},", "}}", "]}", "}]", "[{",
                          "[[", "\"]", "true", "false", "null", "12", "-0.5", "e+7", "\\u00",
                          "\\ud83d", "\\ude00", "\xc3\xa9", "\xc3", "\xa9", "\xe2\x82\xac", "  ",
                          "\n  ", ", ", ": ", "key", " value", "\"a\":[1,2,{\"b\":null}]}", "}\n"})
      bytes.push_back(t);
    eog = static_cast<int32_t>(bytes.size());
    bytes.push_back("");  // EOS: no text
    special = static_cast<int32_t>(bytes.size());
    bytes.push_back("");  // a special token: markup, never text
    vocab = std::make_shared<JsonVocab>(bytes, std::vector<int32_t>{eog});
  }
  int32_t id(const std::string& s) const {
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] == s && !(s.empty())) return static_cast<int32_t>(i);
    ADD_FAILURE() << "no token " << s;
    return 0;
  }
};

TEST(JsonConstraint, TokensMaySpanStructure) {
  ToyVocab v;
  JsonConstraint c(v.vocab);
  EXPECT_FALSE(c.allows(v.id("\"}")));
  EXPECT_FALSE(c.allows(v.eog));
  for (const char* t : {"{\"", "key", "\":", "[{", "\"", "a", "\":", "null", "}]", ",", " ",
                        "\"a\":[1,2,{\"b\":null}]}"}) {
    ASSERT_TRUE(c.allows(v.id(t))) << t << " after " << c.text();
    c.accept(v.id(t));
  }
  EXPECT_EQ(c.text(), "{\"key\":[{\"a\":null}], \"a\":[1,2,{\"b\":null}]}");
  EXPECT_TRUE(nlohmann::json::accept(c.text()));
  EXPECT_TRUE(c.complete());
  EXPECT_FALSE(c.can_continue());
  // Only the end may follow now.
  EXPECT_TRUE(c.allows(v.eog));
  EXPECT_FALSE(c.allows(v.id(" ")));
  EXPECT_FALSE(c.allows(v.id("}\n")));
  EXPECT_THROW(c.accept(v.id("}")), Error);
}

TEST(JsonConstraint, ClosingTwoLevelsNeedsTwoOpen) {
  ToyVocab v;
  JsonConstraint c(v.vocab);
  c.accept(v.id("{\""));
  c.accept(v.id("a"));
  c.accept(v.id("\":"));
  c.accept(v.id("12"));
  EXPECT_FALSE(c.allows(v.id("}}")));
  EXPECT_FALSE(c.allows(v.id("]}")));
  EXPECT_TRUE(c.allows(v.id("}\n")));  // trailing whitespace inside the closing token is fine
  c.accept(v.id("}\n"));
  EXPECT_TRUE(c.complete());
}

TEST(JsonConstraint, Utf8AndEscapesAcrossTokens) {
  ToyVocab v;
  JsonConstraint c(v.vocab);
  c.accept(v.id("{\""));
  EXPECT_FALSE(c.allows(v.id("\xa9")));  // a continuation byte cannot start a character
  c.accept(v.id("\xc3"));
  EXPECT_FALSE(c.allows(v.id("\"")));   // the character is unfinished
  c.accept(v.id("\xa9"));
  EXPECT_FALSE(c.allows(v.id("\\ude00")));  // a low surrogate alone
  c.accept(v.id("\\ud83d"));
  EXPECT_FALSE(c.allows(v.id("\"")));       // a high surrogate alone
  EXPECT_FALSE(c.allows(v.id("\\u00")));
  c.accept(v.id("\\ude00"));
  c.accept(v.id("\":"));
  c.accept(v.id("true"));
  c.accept(v.id("}"));
  EXPECT_TRUE(nlohmann::json::accept(c.text()));
  EXPECT_EQ(nlohmann::json::parse(c.text()).begin().key(), "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonConstraint, SpecialTokensAndEndAreMaskedUntilComplete) {
  ToyVocab v;
  JsonConstraint c(v.vocab);
  std::vector<float> logits(v.bytes.size(), 0.0f);
  c.mask(logits);
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_EQ(std::isfinite(logits[i]), c.allows(static_cast<int32_t>(i))) << i;
  }
  EXPECT_FALSE(std::isfinite(logits[v.eog]));
  EXPECT_FALSE(std::isfinite(logits[v.special]));
  EXPECT_TRUE(std::isfinite(logits['{']));
  EXPECT_TRUE(std::isfinite(logits[' ']));
  EXPECT_FALSE(std::isfinite(logits['[']));  // json_object: an object at the top
  EXPECT_FALSE(std::isfinite(logits['"']));
}

// Random logits with a drift towards closing, so most runs end by themselves.
std::vector<float> random_logits(std::mt19937& rng, const ToyVocab& v, int step) {
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> l(v.bytes.size());
  for (auto& x : l) x = n(rng);
  const float push = 0.02f * static_cast<float>(step);
  for (const char* closer : {"\"", "}", "]", "\"}", "}}", "]}", "}]", "\"]", "0"})
    l[v.id(closer)] += push;
  l[v.eog] += 5.0f;
  return l;
}

TEST(JsonConstraint, ConstrainedSamplingAlwaysGivesAJsonObject) {
  ToyVocab v;
  std::mt19937 rng(99);
  int complete = 0, truncated = 0;
  for (int run = 0; run < 400; ++run) {
    SamplingParams p;
    p.seed = run;
    p.temperature = run % 4 == 0 ? 0.0f : 1.0f;
    p.top_p = run % 3 == 0 ? 0.9f : 1.0f;
    Sampler s(p, static_cast<int64_t>(v.bytes.size()));
    JsonConstraint c(v.vocab);
    bool ended = false;
    for (int step = 0; step < 600 && !ended; ++step) {
      const Sample smp = s.sample(random_logits(rng, v, step), &c);
      ASSERT_NE(smp.token, v.special);
      if (smp.token == v.eog) {
        ASSERT_TRUE(c.complete());
        ended = true;
        break;
      }
      c.accept(smp.token);
      if (c.complete() && !c.can_continue()) ended = true;
    }
    if (ended) {
      ++complete;
      ASSERT_TRUE(nlohmann::json::accept(c.text())) << c.text();
      EXPECT_TRUE(nlohmann::json::parse(c.text()).is_object()) << c.text();
    } else {
      ++truncated;  // cut by the token limit: allowed to be unfinished (finish_reason length)
    }
  }
  EXPECT_GT(complete, 300) << "truncated " << truncated;
  std::printf("json runs: %d complete, %d cut by the token limit\n", complete, truncated);
}

TEST(JsonConstraint, MaskAgreesWithAllowsInManyStates) {
  // The cached per-state masks must give exactly what checking each token gives.
  ToyVocab v;
  std::mt19937 rng(5);
  for (int run = 0; run < 60; ++run) {
    SamplingParams p;
    p.seed = 1000 + run;
    Sampler s(p, static_cast<int64_t>(v.bytes.size()));
    JsonConstraint c(v.vocab, run % 2 ? JsonMachine::Options{} : [] {
      JsonMachine::Options o;
      o.top_level_object = false;
      return o;
    }());
    for (int step = 0; step < 80; ++step) {
      std::vector<float> l(v.bytes.size(), 0.0f);
      c.mask(l);
      for (size_t i = 0; i < l.size(); ++i)
        ASSERT_EQ(std::isfinite(l[i]), c.allows(static_cast<int32_t>(i)))
            << "token " << i << " after " << c.text();
      const Sample smp = s.sample(random_logits(rng, v, step), &c);
      if (smp.token == v.eog) break;
      c.accept(smp.token);
      if (c.complete() && !c.can_continue()) break;
    }
  }
}

TEST(JsonConstraint, RejectsBadEogIds) {
  EXPECT_THROW(JsonVocab({"a", "b"}, {2}), Error);
}

}  // namespace
}  // namespace whale::sampling
