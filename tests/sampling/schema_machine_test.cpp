// SchemaMachine (strict tool schemas, api.md §7.3): hand-written documents are accepted or
// refused exactly; random walks over the allowed bytes always end in a document that
// nlohmann::json parses and that the independent validator (schema_test_support.h) accepts;
// the compiler refuses unsupported or unsatisfiable schemas naming the schema path.
#include "sampling/schema_machine.h"

#include <gtest/gtest.h>

#include "sampling/json_constraint.h"
#include "sampling/schema_test_support.h"
#include "util/error.h"

namespace whale::sampling {
namespace {

using testing::ojson;

std::shared_ptr<const CompiledSchema> compile(const std::string& schema_text) {
  return compile_schema(ojson::parse(schema_text), "schema");
}

bool accepts_doc(const std::shared_ptr<const CompiledSchema>& cs, const std::string& doc) {
  SchemaMachine m(cs);
  return m.feed(doc) && m.complete();
}

// An object schema with one property `v` of the given schema.
std::string wrap(const std::string& sub) {
  return R"({"type":"object","properties":{"v":)" + sub +
         R"(},"required":["v"],"additionalProperties":false})";
}

struct Case {
  std::string schema;
  std::vector<std::string> valid, invalid;
};

std::vector<Case> cases() {
  return {
      {R"({"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false})",
       {R"({"city":"Paris","unit":"c"})", R"({ "city" : "Hang zhou" , "unit":"f" })",
        "{\n  \"city\": \"x\",\n  \"unit\": \"c\"\n}\n", R"({"city":"\"q\"\\\n\t/","unit":"c"})",
        "{\"city\":\"\xE6\x9D\xAD\xE5\xB7\x9E \xF0\x9F\x98\x80\",\"unit\":\"c\"}"},
       {R"({"unit":"c","city":"Paris"})", R"({"city":"Paris"})", R"({"city":"Paris","unit":"k"})",
        R"({"city":1,"unit":"c"})", R"({"city":"a","unit":"c","x":1})", R"({"city":"a","unit":"c"}x)",
        R"({"city":"\u0041","unit":"c"})", "{\"city\":\"a\x01\",\"unit\":\"c\"}",
        "{\"city\":\"\xC0\xAF\",\"unit\":\"c\"}", "{\"city\":\"\xED\xA0\x80\",\"unit\":\"c\"}",
        R"({"city":"a","unit":"c",})", R"([])", R"({"city":"a","unit":"c"})" "{}"}},
      {wrap(R"({"type":"array","items":{"type":"array","items":{"type":"integer"}}})"),
       {R"({"v":[[1,2],[],[-3,0]]})", R"({"v":[]})", R"({"v":[ [ 7 ] , [ ] ]})"},
       {R"({"v":[[1.5]]})", R"({"v":[[01]]})", R"({"v":[1]})", R"({"v":[[1,]]})", R"({"v":[[1e2]]})",
        R"({"v":[[-]]})"}},
      {wrap(R"({"anyOf":[{"type":"string"},{"type":"integer","minimum":0},{"type":"null"}]})"),
       {R"({"v":"x"})", R"({"v":5})", R"({"v":null})", R"({"v":0})"},
       {R"({"v":-1})", R"({"v":true})", R"({"v":1.5})", R"({"v":nul})"}},
      {R"({"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["name","children"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
       {R"({"name":"a","children":[]})", R"({"name":"a","children":[{"name":"b","children":[{"name":"c","children":[]}]},{"name":"d","children":[]}]})"},
       {R"({"name":"a"})", R"({"name":"a","children":[{"name":"b"}]})", R"({"name":"a","children":[1]})"}},
      {R"({"definitions":{"v":{"type":["integer","null"]}},"type":"object","properties":{"a":{"$ref":"#/definitions/v"},"b":{"$ref":"#/definitions/v"}},"required":["a","b"],"additionalProperties":false})",
       {R"({"a":1,"b":null})"}, {R"({"a":"1","b":null})", R"({"a":1})"}},
      {wrap(R"({"type":"string","pattern":"^[A-Z]{3}-\\d{2,4}$"})"),
       {R"({"v":"ABC-12"})", R"({"v":"XYZ-1234"})"},
       {R"({"v":"ABC-1"})", R"({"v":"abc-12"})", R"({"v":"ABC-12345"})", R"({"v":"ABC-12 "})"}},
      {wrap(R"({"type":"string","pattern":"ab+c"})"),
       {R"({"v":"abc"})", R"({"v":"xxabbbcyy"})"}, {R"({"v":"ac"})", R"({"v":"cba"})", R"({"v":""})"}},
      {wrap(R"({"type":"string","pattern":"^(foo|ba(r|z))+$|^x[^a-c\\s]?\\.$"})"),
       {R"({"v":"foobarbaz"})", R"({"v":"x."})", R"({"v":"xd."})"},
       {R"({"v":"fooba"})", R"({"v":"xa."})", R"({"v":"x ."})", R"({"v":""})"}},
      {wrap(R"({"type":"string","pattern":"^a\\\\b\"c\\n$"})"),
       {R"({"v":"a\\b\"c\n"})"}, {R"({"v":"a\\b\"c"})", R"({"v":"a\\b\"c\u000a"})"}},
      {wrap(R"({"type":"string","format":"email"})"),
       {R"({"v":"john.doe@example.com"})", R"({"v":"a+b@mail.co.uk"})"},
       {R"({"v":"john@"})", R"({"v":"@x.com"})", R"({"v":"a@b"})", R"({"v":"a@@b.com"})"}},
      {wrap(R"({"type":"string","format":"ipv4"})"),
       {R"({"v":"192.168.0.1"})", R"({"v":"255.255.255.255"})", R"({"v":"0.0.0.0"})"},
       {R"({"v":"256.1.1.1"})", R"({"v":"1.2.3"})", R"({"v":"01.2.3.4"})", R"({"v":"1.2.3.4.5"})"}},
      {wrap(R"({"type":"string","format":"ipv6"})"),
       {R"({"v":"::1"})", R"({"v":"fe80::1:2"})", R"({"v":"2001:db8:0:0:0:0:2:1"})", R"({"v":"::"})"},
       {R"({"v":"1::2::3"})", R"({"v":"12345::"})", R"({"v":":1"})", R"({"v":"g::1"})"}},
      {wrap(R"({"type":"string","format":"uuid"})"),
       {R"({"v":"123e4567-e89b-12d3-a456-426614174000"})"},
       {R"({"v":"123e4567e89b12d3a456426614174000"})", R"({"v":"123e4567-e89b-12d3-a456-42661417400"})"}},
      {wrap(R"({"type":"string","format":"hostname"})"),
       {R"({"v":"example.com"})", R"({"v":"a-b.c1"})", R"({"v":"localhost"})"},
       {R"({"v":"-a.com"})", R"({"v":"a..com"})", R"({"v":"a_b.com"})", R"({"v":"a-.com"})"}},
      {wrap(R"({"type":"number","minimum":1.5,"exclusiveMaximum":3})"),
       {R"({"v":1.5})", R"({"v":2.999})", R"({"v":2})"},
       {R"({"v":3})", R"({"v":1.4})", R"({"v":1e0})", R"({"v":3.0})", R"({"v":-2})"}},
      {wrap(R"({"type":"integer","exclusiveMinimum":0,"maximum":100})"),
       {R"({"v":1})", R"({"v":100})", R"({"v":57})"},
       {R"({"v":0})", R"({"v":101})", R"({"v":1.0})", R"({"v":-5})", R"({"v":1000})"}},
      {wrap(R"({"type":"integer","minimum":-10,"maximum":-5})"),
       {R"({"v":-10})", R"({"v":-7})", R"({"v":-5})"}, {R"({"v":-11})", R"({"v":-4})", R"({"v":-1})", R"({"v":5})"}},
      {wrap(R"({"type":"number","multipleOf":0.25,"minimum":0,"maximum":1})"),
       {R"({"v":0.75})", R"({"v":1})", R"({"v":0})", R"({"v":0.5})"}, {R"({"v":0.3})", R"({"v":1.25})"}},
      {wrap(R"({"type":"integer","multipleOf":7,"minimum":10})"),
       {R"({"v":14})", R"({"v":700})"}, {R"({"v":7})", R"({"v":15})"}},
      {wrap(R"({"enum":[1,10,"a",[1,2],{"k":null},true,1.5]})"),
       {R"({"v":1})", R"({"v":10})", R"({"v":"a"})", R"({"v":[1,2]})", R"({"v":{"k":null}})",
        R"({"v":true})", R"({"v":1.5})"},
       {R"({"v":100})", R"({"v":"b"})", R"({"v":[1, 2]})", R"({"v":false})", R"({"v":1.50})"}},
      {wrap(R"({"type":"string","enum":["x",1,"y"]})"), {R"({"v":"y"})"}, {R"({"v":1})"}},
      {wrap(R"({"const":"fixed"})"), {R"({"v":"fixed"})"}, {R"({"v":"other"})"}},
      {wrap(R"({"type":"boolean"})"), {R"({"v":false})", R"({"v":true})"}, {R"({"v":0})", R"({"v":"true"})"}},
      {wrap(R"({"type":"object","additionalProperties":{"type":"integer"}})"),
       {R"({"v":{}})", R"({"v":{"a":1,"b":2}})"}, {R"({"v":{"a":"x"}})", R"({"v":{"a":1,}})"}},
      {wrap(R"({})"),
       {R"({"v":{"a":[1,"b",{"c":null}],"d":-0.5}})", R"({"v":"s"})", R"({"v":[]})", R"({"v":false})"},
       {R"({"v":{"a":}})", R"({"v":1e5})", R"({"v":[1,]})"}},
      {R"({"type":"object","properties":{},"additionalProperties":false})", {"{}", " { } "}, {R"({"a":1})"}},
  };
}

TEST(SchemaMachine, AcceptsExactlyTheValidDocuments) {
  for (const auto& c : cases()) {
    const auto cs = compile(c.schema);
    const ojson schema = ojson::parse(c.schema);
    for (const auto& doc : c.valid) {
      EXPECT_TRUE(accepts_doc(cs, doc)) << c.schema << "\nvalid: " << doc;
      // The hand-written expectation agrees with the independent validator.
      std::string why;
      EXPECT_TRUE(testing::validate(schema, nlohmann::json::parse(doc), schema, why)) << doc << ": " << why;
    }
    for (const auto& doc : c.invalid) EXPECT_FALSE(accepts_doc(cs, doc)) << c.schema << "\ninvalid: " << doc;
  }
}

TEST(SchemaMachine, RandomWalksEndInValidDocuments) {
  std::mt19937 rng(1234);
  for (const auto& c : cases()) {
    const auto cs = compile(c.schema);
    const ojson schema = ojson::parse(c.schema);
    for (int run = 0; run < 40; ++run) {
      const std::string doc = testing::random_walk(cs, rng);
      ASSERT_TRUE(nlohmann::json::accept(doc)) << c.schema << "\n" << doc;
      std::string why;
      EXPECT_TRUE(testing::validate(schema, nlohmann::json::parse(doc), schema, why))
          << c.schema << "\n" << doc << "\n" << why;
      EXPECT_TRUE(accepts_doc(cs, doc));
    }
  }
}

TEST(SchemaMachine, KeysComeInTheListedOrder) {
  const auto cs = compile(R"({"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"boolean"}},"required":["zeta","alpha"],"additionalProperties":false})");
  EXPECT_TRUE(accepts_doc(cs, R"({"zeta":1,"alpha":true})"));
  EXPECT_FALSE(accepts_doc(cs, R"({"alpha":true,"zeta":1})"));
  std::mt19937 rng(5);
  const std::string doc = testing::random_walk(cs, rng);
  const ojson parsed = ojson::parse(doc);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed.begin().key(), "zeta");
}

TEST(SchemaMachine, NumbersNeverDeadEnd) {
  const auto cs = compile(wrap(R"({"type":"integer","minimum":5,"maximum":7})"));
  SchemaMachine m(cs);
  ASSERT_TRUE(m.feed("{\"v\":"));
  for (const char* bad : {"1", "-", "0", "4", "8", "9"}) EXPECT_FALSE(m.accepts(bad)) << bad;
  for (const char* good : {"5", "6", "7"}) EXPECT_TRUE(m.accepts(good)) << good;
  EXPECT_FALSE(m.accepts("55"));
  // Exclusive bounds approached from inside: 0 < x < 1e-3 needs digits after "0.000".
  const auto tiny = compile(wrap(R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":0.001})"));
  SchemaMachine t(tiny);
  ASSERT_TRUE(t.feed("{\"v\":0.000"));
  EXPECT_FALSE(t.accepts("}"));
  EXPECT_FALSE(t.accepts("0000000000000"));  // 15 digits leave no room for a nonzero one
  EXPECT_TRUE(t.accepts("5"));
  EXPECT_FALSE(SchemaMachine(tiny).accepts("{\"v\":0.001"));
  EXPECT_FALSE(SchemaMachine(tiny).accepts("{\"v\":1"));
}

TEST(SchemaMachine, DepthCapRefusesValuesThatCannotClose) {
  const auto cs = compile_schema(ojson::parse(R"({"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"integer"}}}})"),
                                 "schema", SchemaOptions{.max_depth = 3});
  EXPECT_TRUE(accepts_doc(cs, "[[[]]]"));
  EXPECT_FALSE(accepts_doc(cs, "[[[1]]]"));  // the integer would be a 4th frame
  std::mt19937 rng(3);
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(nlohmann::json::accept(testing::random_walk(cs, rng)));
}

TEST(SchemaMachine, CompleteAndCanContinue) {
  const auto cs = compile(wrap(R"({"type":"integer"})"));
  SchemaMachine m(cs);
  EXPECT_FALSE(m.complete());
  EXPECT_TRUE(m.can_continue());
  ASSERT_TRUE(m.feed("{\"v\":12"));
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(m.feed("}"));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_TRUE(m.accepts(" \n"));
  EXPECT_FALSE(m.accepts("{"));
  // Leaving state unchanged on rejection.
  SchemaMachine r(cs);
  EXPECT_FALSE(r.feed("{\"w\""));
  EXPECT_TRUE(r.feed("{\"v\""));
}

TEST(SchemaMachine, WhitespaceRunsAreCapped) {
  const auto cs = compile_schema(ojson::parse(wrap(R"({"type":"null"})")), "schema",
                                 SchemaOptions{.max_whitespace_run = 4});
  EXPECT_TRUE(accepts_doc(cs, "{    \"v\":null}"));
  EXPECT_FALSE(accepts_doc(cs, "{     \"v\":null}"));
}

void expect_rejected(const std::string& schema, const std::string& path_part, const std::string& what) {
  try {
    compile_schema(ojson::parse(schema), "tools[0].function.parameters");
    ADD_FAILURE() << "accepted: " << schema;
  } catch (const whale::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path_part), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(SchemaCompiler, RejectionsNameThePath) {
  const std::string p = "tools[0].function.parameters";
  expect_rejected(wrap(R"({"type":"string","minLength":2})"), p + ".properties.v", "minLength");
  expect_rejected(wrap(R"({"type":"array","maxItems":2})"), p + ".properties.v", "maxItems");
  expect_rejected(wrap(R"({"enum":[]})"), p + ".properties.v", "enum");
  expect_rejected(wrap(R"({"type":"string","enum":[1,2]})"), p + ".properties.v", "enum");
  expect_rejected(wrap(R"({"type":"string","pattern":"[^\\s\\S]"})"), p + ".properties.v.pattern", "matches no string");
  expect_rejected(wrap(R"({"type":"string","pattern":"a^b"})"), p + ".properties.v.pattern", "matches no string");
  expect_rejected(wrap(R"({"type":"string","pattern":"(?=a)b"})"), p + ".properties.v.pattern", "lookaround");
  expect_rejected(wrap(R"({"type":"string","pattern":"(a)\\1"})"), p + ".properties.v.pattern", "backreference");
  expect_rejected(wrap(R"({"type":"string","pattern":"(ab"})"), p + ".properties.v.pattern", "')'");
  expect_rejected(wrap(R"({"type":"string","format":"date"})"), p + ".properties.v.format", "date");
  expect_rejected(wrap(R"({"type":"number","minimum":5,"maximum":3})"), p + ".properties.v", "range");
  expect_rejected(wrap(R"({"type":"integer","minimum":0.1,"maximum":0.9})"), p + ".properties.v", "integer");
  expect_rejected(wrap(R"({"type":"number","exclusiveMinimum":1,"exclusiveMaximum":1.00000000000000001})"),
                  p + ".properties.v", "range");
  expect_rejected(wrap(R"({"type":"widget"})"), p + ".properties.v.type", "widget");
  expect_rejected(wrap(R"(false)"), p + ".properties.v", "false");
  expect_rejected(R"({"type":"object","properties":{"a":{"type":"string"}},"required":[],"additionalProperties":false})",
                  p, "`a` must be listed in `required`");
  expect_rejected(R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":true})",
                  p, "additionalProperties");
  expect_rejected(wrap(R"({"$ref":"#/$defs/missing"})"), p + ".properties.v", "does not resolve");
  expect_rejected(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "/$defs/a", "cycle");
  expect_rejected(R"({"$defs":{"n":{"type":"object","properties":{"c":{"$ref":"#/$defs/n"}},"required":["c"],"additionalProperties":false}},"$ref":"#/$defs/n"})",
                  "/$defs/n", "no finite document");
  expect_rejected(wrap(R"({"type":"string","pattern":"a","format":"email"})"), p + ".properties.v", "together");
  // Pathological patterns fail fast instead of stalling a request.
  expect_rejected(wrap(R"({"type":"string","pattern":"(a|b)*a(a|b){14}"})"), p + ".properties.v.pattern", "too complex");
  expect_rejected(wrap(R"({"type":"string","pattern":"((a{1000}){1000}){1000}"})"), p + ".properties.v.pattern", "too large");
  expect_rejected(wrap(R"({"type":"string","pattern":"a{5,2}"})"), p + ".properties.v.pattern", "n < m");
}

TEST(SchemaCompiler, AcceptsSpecExamplesAndIgnoresAnnotations) {
  EXPECT_NO_THROW(compile(R"({"type":"object","description":"d","title":"t","$schema":"x","properties":{"n":{"type":"number","default":3,"description":"n"}},"required":["n"],"additionalProperties":false})"));
  // Draft-4 boolean exclusive bounds.
  const auto cs = compile(wrap(R"({"type":"integer","minimum":0,"exclusiveMinimum":true,"maximum":3,"exclusiveMaximum":true})"));
  EXPECT_TRUE(accepts_doc(cs, R"({"v":1})"));
  EXPECT_FALSE(accepts_doc(cs, R"({"v":0})"));
  EXPECT_FALSE(accepts_doc(cs, R"({"v":3})"));
}

TEST(SchemaMachine, DrivesJsonConstraintThroughTheSharedCache) {
  // A toy byte vocabulary plus some multi-byte tokens; JsonVocab caches masks per state for
  // both machine kinds side by side.
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"{\"", "\":", "\",\"", "\"}", "city", "unit", "true", "12", "\"c"}) bytes.push_back(t);
  const int32_t eog = static_cast<int32_t>(bytes.size());
  bytes.push_back("");
  auto vocab = std::make_shared<JsonVocab>(bytes, std::vector<int32_t>{eog});
  const auto cs = compile(cases()[0].schema);
  std::mt19937 rng(9);
  for (int run = 0; run < 20; ++run) {
    JsonConstraint c(vocab, std::make_unique<SchemaMachine>(cs));
    JsonConstraint plain(vocab);  // interleaved JSON-mode use of the same cache
    for (int step = 0; step < 400 && c.can_continue(); ++step) {
      std::vector<float> logits(bytes.size(), 0.0f);
      c.mask(logits);
      std::vector<int32_t> ok;
      for (int32_t id = 0; id < static_cast<int32_t>(logits.size()); ++id) {
        ASSERT_EQ(std::isinf(logits[id]), !c.allows(id)) << id;
        if (!std::isinf(logits[id]) && id != eog) ok.push_back(id);
      }
      std::vector<float> l2(bytes.size(), 0.0f);
      plain.mask(l2);
      if (ok.empty()) break;
      // Prefer multi-byte tokens and closers so runs end.
      int32_t pick = ok[rng() % ok.size()];
      for (int32_t id : ok)
        if ((bytes[id] == "\"" || bytes[id] == "}" || bytes[id] == "\"}") && rng() % 3 == 0) pick = id;
      c.accept(pick);
    }
    if (!c.complete()) continue;
    const ojson schema = ojson::parse(cases()[0].schema);
    std::string why;
    ASSERT_TRUE(nlohmann::json::accept(c.text())) << c.text();
    EXPECT_TRUE(testing::validate(schema, nlohmann::json::parse(c.text()), schema, why)) << c.text();
  }
}

}  // namespace
}  // namespace whale::sampling
