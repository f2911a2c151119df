// The JSON automaton against nlohmann::json::accept (an independent strict RFC 8259 parser):
// the same verdict on a corpus of valid and invalid texts, and no dead ends: from every state a
// random walk reaches, a short completion exists.
#include "sampling/json_machine.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace whale::sampling {
namespace {

JsonMachine::Options any_value() {
  JsonMachine::Options o;
  o.top_level_object = false;
  return o;
}

bool machine_accepts(const std::string& text, JsonMachine::Options o) {
  JsonMachine m(o);
  // Byte by byte, as a byte-level vocabulary would feed it.
  for (char c : text)
    if (!m.feed(std::string_view(&c, 1))) return false;
  return m.complete();
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts = {
      "{}", "[]", "{\"a\":1}", " { \"a\" : [ 1 , 2.5e-3 , -0 , true , false , null ] } ",
      "\"x\"", "0", "-0", "12", "1.5", "1e5", "1E+5", "1e-5", "-12.34e+56", "true", "null",
      "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "--1", "1.2.3", "tru", "nul", "True",
      "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{,}", "{\"a\":1,}", "{1:2}", "{'a':1}", "[1 2]",
      "{\"a\":1}}", "[[]]]", "", " ", "[", "{", "\"abc", "\"a\\\"b\"", "\"\\u00e9\"",
      "\"\\uD83D\\uDE00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"",
      "\"\\x41\"", "\"\\/\\b\\f\\n\\r\\t\"", "\"tab\there\"", "\"nl\nhere\"",
      "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xc3\"", "\"\xc0\xaf\"",
      "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"", "\"\x80\"",
      "[\"\xf0\x9f\x98\"]", "{\"k\":{\"n\":[{},[],{\"x\":[null]}]}}", "[1]x", "{} {}",
      "\"\\u12\"", "\"\\u12G4\"", "[-]", "1e99", "-1.5E-07", "[-1.]", "[0.e1]", "[1.0e01]", "[00]", "[1,\n2]",
  };
  return texts;
}

TEST(JsonMachine, AgreesWithAStrictParser) {
  for (const auto& t : corpus()) {
    const bool want = nlohmann::json::accept(t);
    EXPECT_EQ(machine_accepts(t, any_value()), want) << "text: " << t;
    const bool want_obj = want && nlohmann::json::parse(t).is_object();
    EXPECT_EQ(machine_accepts(t, JsonMachine::Options{}), want_obj) << "object mode: " << t;
  }
}

TEST(JsonMachine, RejectedBytesLeaveTheStateAlone) {
  JsonMachine m;
  ASSERT_TRUE(m.feed("{\"a\":"));
  EXPECT_FALSE(m.feed("}"));
  EXPECT_FALSE(m.feed("1}}"));  // the first '}' is fine, the second is not: all or nothing
  EXPECT_TRUE(m.feed("[1]}"));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_TRUE(m.feed(" \n"));  // trailing whitespace is still JSON
  EXPECT_FALSE(m.feed("x"));
}

TEST(JsonMachine, ExponentsStayFinite) {
  JsonMachine m(any_value());
  EXPECT_TRUE(m.feed("8e89"));
  EXPECT_FALSE(m.accepts("0"));  // 8e890 overflows a double
  EXPECT_TRUE(m.complete());
}

TEST(JsonMachine, TopLevelNumberCanContinue) {
  JsonMachine m(any_value());
  ASSERT_TRUE(m.feed("12"));
  EXPECT_TRUE(m.complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_TRUE(m.feed("3.5"));
  EXPECT_TRUE(m.complete());
}

TEST(JsonMachine, CapsRemoveChoicesButNeverAll) {
  JsonMachine::Options o;
  o.max_whitespace_run = 3;
  o.max_depth = 2;
  o.max_number_length = 4;
  JsonMachine m(o);
  EXPECT_TRUE(m.feed("   {"));
  EXPECT_FALSE(m.accepts("    \"a\""));  // four spaces
  EXPECT_TRUE(m.feed("\"a\":["));
  EXPECT_FALSE(m.accepts("["));           // depth 3
  EXPECT_TRUE(m.feed("1234"));
  EXPECT_FALSE(m.accepts("5"));
  EXPECT_TRUE(m.feed("]}"));
  EXPECT_TRUE(m.complete());
}

// Completes any state with single bytes, preferring closers; returns false if stuck.
bool complete_greedily(JsonMachine& m, std::string& text) {
  // Close strings first; the high bytes finish a UTF-8 sequence whatever its lead byte.
  static const std::string order = "\"}]0:,truefalsndc\\u123456789abf\x80\x90\xa0{";
  for (int steps = 0; steps < 2000 && !m.complete(); ++steps) {
    bool moved = false;
    for (char c : order) {
      if (m.feed(std::string_view(&c, 1))) {
        text.push_back(c);
        moved = true;
        break;
      }
    }
    if (!moved) return false;
  }
  return m.complete();
}

TEST(JsonMachine, NoDeadEndsAlongRandomWalks) {
  std::mt19937 rng(17);
  // Bytes a JSON text is made of, plus some it must never contain.
  const std::string alphabet =
      "{}[]\",:  \n0123456789-+.eEtrufalsn\\/bu\x01\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0xAdD";
  int completed = 0;
  for (int walk = 0; walk < 3000; ++walk) {
    JsonMachine m(walk % 2 ? any_value() : JsonMachine::Options{});
    std::string text;
    const int len = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < len; ++i) {
      const char c = alphabet[rng() % alphabet.size()];
      if (m.feed(std::string_view(&c, 1))) text.push_back(c);
    }
    std::string done = text;
    ASSERT_TRUE(complete_greedily(m, done)) << "stuck after: " << text;
    ASSERT_TRUE(nlohmann::json::accept(done)) << done;
    ++completed;
  }
  EXPECT_EQ(completed, 3000);
}

}  // namespace
}  // namespace whale::sampling
