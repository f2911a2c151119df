// Strict tools end to end (api.md §7.3, checklist §11): a real server on the random-weight demo
// model. Its output is gibberish, so whatever the strict tool call's arguments are, they come
// from the schema decoding constraint: every finished call must validate against the tool's
// parameters (independent validator, tests/sampling/schema_test_support.h). Schemas the decoder
// cannot enforce, or with unsupported keywords, are a 400 naming the schema path.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <thread>

#include "model/synthetic.h"
#include "sampling/schema_test_support.h"
#include "server/http_server.h"
#include "server/real_backend.h"

namespace whale::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

class StrictTools : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("whale_strict_tools_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    const auto model = *dir_ / "demo.gguf";
    model::SynthOptions so;
    so.shape = model::synth_shape("demo");
    so.mix = model::SynthMix::kQ8_0;
    model::write_synthetic_model(so, model);
    RealBackendOptions o;
    o.model_path = model;
    o.threads = 2;
    o.warn_to_stderr = false;
    o.engine.ctx_size = 2048;
    o.engine.max_parallel = 2;
    o.engine.disk_cache = false;
    o.engine.cache_ram_bytes = int64_t{64} << 20;
    backend_ = new RealBackend(o);
    backend_->load();
    ServerOptions so2;
    so2.host = "127.0.0.1";
    so2.port = 0;
    server_ = new HttpServer(*backend_, so2);
    port_ = server_->bind();
    thread_ = new std::thread([] { server_->run(); });
  }
  static void TearDownTestSuite() {
    server_->shutdown(std::chrono::milliseconds(2000));
    thread_->join();
    delete thread_;
    delete server_;
    delete backend_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static httplib::Result post(const json& body) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c.Post("/beta/chat/completions", body.dump(), "application/json");
  }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline RealBackend* backend_ = nullptr;
  static inline HttpServer* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline int port_ = 0;
};

// Bounded in length (enums, ranges, an anchored pattern), so a call always finishes.
const char* const kWeather = R"({"type":"object","properties":{
  "city":{"type":"string","pattern":"^[A-Z][a-z]{1,8}$"},
  "unit":{"type":"string","enum":["celsius","fahrenheit"]},
  "days":{"type":"integer","minimum":1,"maximum":14},
  "detail":{"anyOf":[{"type":"boolean"},{"type":"null"}]}},
  "required":["city","unit","days","detail"],"additionalProperties":false})";
const char* const kTime = R"({"type":"object","properties":{
  "zone":{"$ref":"#/$defs/zone"}},"$defs":{"zone":{"enum":["UTC","CET","JST"]}},
  "required":["zone"],"additionalProperties":false})";

json tool(const std::string& name, const char* params) {
  return {{"type", "function"},
          {"function", {{"name", name}, {"strict", true}, {"parameters", json::parse(params)}}}};
}

json request(const json& tools, const json& tool_choice, int seed) {
  return {{"model", "deepseek-chat"},
          {"messages", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
          {"tools", tools},
          {"tool_choice", tool_choice},
          {"temperature", 1.5},
          {"seed", seed},
          {"max_tokens", 400}};
}

void expect_valid_calls(const json& response, int& checked) {
  const json& choice = response["choices"][0];
  if (choice["finish_reason"] != "tool_calls") return;  // cut by max_tokens
  for (const auto& call : choice["message"]["tool_calls"]) {
    const std::string name = call["function"]["name"];
    const std::string args = call["function"]["arguments"];
    const ordered_json schema = ordered_json::parse(name == "get_weather" ? kWeather : kTime);
    ASSERT_TRUE(json::accept(args)) << args;
    std::string why;
    EXPECT_TRUE(sampling::testing::validate(schema, json::parse(args), schema, why))
        << name << " " << args << ": " << why;
    ++checked;
  }
}

TEST_F(StrictTools, NamedStrictCallArgumentsValidate) {
  int checked = 0;
  for (int seed = 1; seed <= 4; ++seed) {
    auto r = post(request(json::array({tool("get_weather", kWeather)}),
                          {{"type", "function"}, {"function", {{"name", "get_weather"}}}}, seed));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    expect_valid_calls(json::parse(r->body), checked);
  }
  RecordProperty("calls_checked", checked);
  EXPECT_GE(checked, 3);
}

TEST_F(StrictTools, RequiredAmongSeveralStrictToolsValidates) {
  int checked = 0;
  for (int seed = 1; seed <= 4; ++seed) {
    auto r = post(request(json::array({tool("get_weather", kWeather), tool("get_time", kTime)}),
                          "required", seed));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    expect_valid_calls(json::parse(r->body), checked);
  }
  RecordProperty("calls_checked", checked);
  EXPECT_GE(checked, 3);
}

// tool_choice "auto": the model may write text; each call it opens (the call-begin marker
// token, which the random model emits now and then) is forced into the call syntax with
// schema-valid arguments, so every call the parser finds validates.
TEST_F(StrictTools, AutoChoiceCallsValidate) {
  int checked = 0;
  for (int seed = 1; seed <= 12; ++seed) {
    json body = request(json::array({tool("get_weather", kWeather), tool("get_time", kTime)}), "auto", seed);
    body["max_tokens"] = 600;
    body["temperature"] = 2.0;
    auto r = post(body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    const json& message = j["choices"][0]["message"];
    if (!message.contains("tool_calls")) continue;
    // A reply cut by max_tokens (finish_reason "length") may end inside its last call: that one
    // is incomplete by design; every call before it must validate.
    const json& calls = message["tool_calls"];
    const size_t complete = j["choices"][0]["finish_reason"] == "length" ? calls.size() - 1 : calls.size();
    for (size_t c = 0; c < complete; ++c) {
      const json& call = calls[c];
      const std::string name = call["function"]["name"];
      const std::string args = call["function"]["arguments"];
      const ordered_json schema = ordered_json::parse(name == "get_weather" ? kWeather : kTime);
      ASSERT_TRUE(json::accept(args)) << args;
      std::string why;
      EXPECT_TRUE(sampling::testing::validate(schema, json::parse(args), schema, why))
          << name << " " << args << ": " << why;
      ++checked;
    }
  }
  RecordProperty("calls_checked", checked);
  EXPECT_GE(checked, 1) << "the random model never opened a call";
}

TEST_F(StrictTools, UnenforceableSchemasAre400NamingThePath) {
  json weather = json::parse(kWeather);
  weather["properties"]["city"]["minLength"] = 1;
  auto r = post(request(json::array({{{"type", "function"},
                                      {"function", {{"name", "w"}, {"strict", true}, {"parameters", weather}}}}}),
                        "auto", 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("minLength"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("properties.city"), std::string::npos) << r->body;

  weather = json::parse(kWeather);
  weather["properties"]["city"]["pattern"] = "^a$b";  // nothing after the end
  r = post(request(json::array({{{"type", "function"},
                                 {"function", {{"name", "w"}, {"strict", true}, {"parameters", weather}}}}}),
                   "auto", 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("tools[0].function.parameters.properties.city.pattern"), std::string::npos) << r->body;

  weather = json::parse(kWeather);
  weather["properties"]["days"]["minimum"] = 20;  // above the maximum
  r = post(request(json::array({{{"type", "function"},
                                 {"function", {{"name", "w"}, {"strict", true}, {"parameters", weather}}}}}),
                   "auto", 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("properties.days"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace whale::server
