// Every conversation of the chat fixtures renders byte for byte like the reference Jinja2
// (renders.jsonl), both through the Jinja interpreter and through the built-in renderers.
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "chat_fixtures.h"

namespace whale::chat {
namespace {

using nlohmann::ordered_json;
using testing::chat_template_text;
using testing::fixture;
using testing::read_jsonl;
using testing::read_text;

struct RenderCase {
  std::string template_name;
  std::string conversation;
  bool add_generation_prompt;
  ordered_json messages;
  bool expect_error;
  std::string expected;  // rendered text or error text
};

std::vector<RenderCase> load_cases() {
  std::vector<RenderCase> cases;
  auto convs = ordered_json::parse(read_text(fixture("tokenizer/chat/conversations.json")));
  for (const auto& row : read_jsonl(fixture("tokenizer/chat/renders.jsonl"))) {
    RenderCase c;
    c.template_name = row["template"];
    c.conversation = row["conversation"];
    c.add_generation_prompt = row["add_generation_prompt"];
    c.messages = convs[c.conversation];
    c.expect_error = row.contains("error");
    c.expected = c.expect_error ? row["error"].get<std::string>() : row["rendered"].get<std::string>();
    cases.push_back(std::move(c));
  }
  return cases;
}

ordered_json context_for(const RenderCase& c) {
  ordered_json ctx;
  ctx["messages"] = c.messages;
  ctx["add_generation_prompt"] = c.add_generation_prompt;
  if (c.template_name == "qwen3") {
    ctx["bos_token"] = nullptr;
    ctx["eos_token"] = "<|im_end|>";
  } else {
    ctx["bos_token"] = "<｜begin▁of▁sentence｜>";
    ctx["eos_token"] = "<｜end▁of▁sentence｜>";
  }
  return ctx;
}

TEST(ChatRenders, JinjaMatchesReferenceForEveryFixture) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/renders.jsonl");
  auto cases = load_cases();
  ASSERT_EQ(cases.size(), 132u);
  int errors = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.template_name + " / " + c.conversation);
    std::string src = chat_template_text(c.template_name);
    if (c.expect_error) {
      ++errors;
      try {
        jinja::render(src, context_for(c));
        ADD_FAILURE() << "expected error " << c.expected;
      } catch (const jinja::TemplateRenderError& e) {
        // The reference raised a Python TypeError; we report the same text.
        EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << e.what();
      }
    } else {
      EXPECT_EQ(jinja::render(src, context_for(c)), c.expected);
    }
  }
  EXPECT_EQ(errors, 11);
}

}  // namespace
}  // namespace whale::chat

namespace whale::chat {
namespace {

ChatFamily family_of_fixture(const std::string& name) {
  if (name == "deepseek-v3") return ChatFamily::DeepSeekV3;
  if (name == "deepseek-r1") return ChatFamily::DeepSeekR1;
  if (name == "deepseek-r1-0528") return ChatFamily::DeepSeekR1_0528;
  if (name == "deepseek-r1-distill") return ChatFamily::R1DistillQwen;
  if (name == "deepseek-r1-distill-2025-01") return ChatFamily::R1DistillLegacy;
  if (name == "qwen3") return ChatFamily::Qwen3;
  return ChatFamily::Unknown;
}

TEST(ChatRenders, DetectFamilyOfEveryFixtureTemplate) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/templates");
  for (const char* name : {"deepseek-v3", "deepseek-r1", "deepseek-r1-0528", "deepseek-r1-distill",
                           "deepseek-r1-distill-2025-01", "qwen3"}) {
    EXPECT_EQ(detect_family(chat_template_text(name)), family_of_fixture(name)) << name;
  }
}

TEST(ChatRenders, TemplatesInsideTokenizerConfigs) {
  WHALE_REQUIRE_FIXTURE("tokenizer/deepseek-v3/tokenizer_config.json");
  auto v3 = ordered_json::parse(read_text(fixture("tokenizer/deepseek-v3/tokenizer_config.json")));
  auto r1 = ordered_json::parse(read_text(fixture("tokenizer/deepseek-r1/overrides.json")))["tokenizer_config"];
  auto distill = ordered_json::parse(read_text(fixture("tokenizer/r1-distill-qwen/overrides.json")))["tokenizer_config"];
  auto qwen3 = ordered_json::parse(read_text(fixture("tokenizer/qwen3/tokenizer_config.json")));
  EXPECT_EQ(detect_family(v3["chat_template"]), ChatFamily::DeepSeekV3);
  EXPECT_EQ(detect_family(r1["chat_template"]), ChatFamily::DeepSeekR1);
  EXPECT_EQ(detect_family(distill["chat_template"]), ChatFamily::R1DistillQwen);
  EXPECT_EQ(detect_family(qwen3["chat_template"]), ChatFamily::Qwen3);
  // Spec §6.5: R1, system + user, generation prompt.
  ordered_json msgs = ordered_json::parse(
      R"([{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is 17 * 24?"}])");
  EXPECT_EQ(render_chat(r1["chat_template"], msgs, nullptr, true, r1["bos_token"], r1["eos_token"]),
            "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is 17 * 24?<｜Assistant｜><think>\n");
}

TEST(ChatRenders, BuiltinRenderersMatchReference) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/renders.jsonl");
  int checked = 0;
  for (const auto& c : load_cases()) {
    ChatFamily f = family_of_fixture(c.template_name);
    if (f == ChatFamily::Qwen3) continue;  // no built-in renderer: Qwen3 is rendered by Jinja only
    SCOPED_TRACE(c.template_name + " / " + c.conversation);
    RenderOptions o;
    o.add_generation_prompt = c.add_generation_prompt;
    ++checked;
    if (c.expect_error) {
      try {
        render_builtin(f, c.messages, nullptr, o);
        ADD_FAILURE() << "expected error " << c.expected;
      } catch (const jinja::TemplateRenderError& e) {
        EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << e.what();
      }
    } else {
      EXPECT_EQ(render_builtin(f, c.messages, nullptr, o), c.expected);
    }
  }
  EXPECT_EQ(checked, 110);
}

TEST(ChatRenders, RenderChatUsesTheTemplate) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/renders.jsonl");
  for (const auto& c : load_cases()) {
    if (c.expect_error) continue;
    SCOPED_TRACE(c.template_name + " / " + c.conversation);
    RenderOptions o;
    o.add_generation_prompt = c.add_generation_prompt;
    if (c.template_name == "qwen3") {
      o.bos_token = "";  // unused by the Qwen3 template
      o.eos_token = "<|im_end|>";
    }
    std::vector<std::string> warnings;
    o.warn = [&](const std::string& w) { warnings.push_back(w); };
    EXPECT_EQ(render_chat(chat_template_text(c.template_name), c.messages, nullptr, o), c.expected);
    EXPECT_TRUE(warnings.empty());
  }
}

// A template using something the subset lacks falls back to the family's built-in renderer,
// with a warning naming the construct and line.
TEST(ChatRenders, UnsupportedConstructFallsBackWithWarning) {
  WHALE_REQUIRE_FIXTURE("tokenizer/chat/templates/deepseek-r1.jinja");
  std::string src = chat_template_text("deepseek-r1") + "\n{% include 'extra.jinja' %}";
  ordered_json msgs = ordered_json::parse(R"([{"role":"user","content":"Hello!"}])");
  std::vector<std::string> warnings;
  RenderOptions o;
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  EXPECT_EQ(render_chat(src, msgs, nullptr, o), "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜><think>\n");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("statement 'include'"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("line 2"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("DeepSeekR1"), std::string::npos) << warnings[0];

  o.allow_fallback = false;
  EXPECT_THROW(render_chat(src, msgs, nullptr, o), jinja::UnsupportedTemplateError);
  // Unknown family: nothing to fall back to.
  o.allow_fallback = true;
  EXPECT_THROW(render_chat("{{ messages | frobnicate }}", msgs, nullptr, o), jinja::UnsupportedTemplateError);
}

// Template runtime errors are the reference behaviour and are not papered over by a fallback.
TEST(ChatRenders, RaiseExceptionPropagates) {
  ordered_json msgs = ordered_json::parse(R"([{"role":"user","content":"x"}])");
  std::string src = "<｜User｜>{{ raise_exception('Conversation roles must alternate') }}";
  try {
    render_chat(src, msgs, nullptr, RenderOptions{});
    FAIL() << "expected a render error";
  } catch (const jinja::TemplateRenderError& e) {
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate"), std::string::npos);
  }
}

TEST(ChatFormat, FactsPerFamily) {
  auto r1 = chat_format(ChatFamily::DeepSeekR1);
  EXPECT_TRUE(r1.supports_thinking);
  EXPECT_TRUE(r1.thinking_forced_open);
  EXPECT_EQ(r1.think_open, "<think>");
  EXPECT_EQ(r1.think_close, "</think>");
  EXPECT_EQ(r1.tool_syntax, ToolCallSyntax::DeepSeekV3);
  auto r0528 = chat_format(ChatFamily::DeepSeekR1_0528);
  EXPECT_TRUE(r0528.supports_thinking);
  EXPECT_FALSE(r0528.thinking_forced_open);  // spec §6.3: the model writes <think> itself
  auto v3 = chat_format(ChatFamily::DeepSeekV3);
  EXPECT_FALSE(v3.supports_thinking);
  EXPECT_TRUE(chat_format(ChatFamily::R1DistillQwen).thinking_forced_open);
  EXPECT_FALSE(chat_format(ChatFamily::R1DistillLegacy).thinking_forced_open);
  EXPECT_EQ(chat_format(ChatFamily::DeepSeekV31).tool_syntax, ToolCallSyntax::DeepSeekV31);
  EXPECT_EQ(chat_format(ChatFamily::Qwen3).tool_syntax, ToolCallSyntax::QwenXml);
}

// api.md §4.3 (e3): reasoning before the last user turn is dropped; the current tool loop's is kept.
TEST(ChatPrepare, ReasoningContentRules) {
  ordered_json msgs = ordered_json::parse(R"([
    {"role":"user","content":"q1"},
    {"role":"assistant","content":"a1","reasoning_content":"old thoughts"},
    {"role":"user","content":"q2"},
    {"role":"assistant","content":null,"reasoning_content":"new thoughts",
     "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","content":"r"}])");
  auto r1 = prepare_messages(msgs, chat_format(ChatFamily::DeepSeekR1));
  EXPECT_FALSE(r1[1].contains("reasoning_content"));
  EXPECT_EQ(r1[1]["content"], "a1");
  EXPECT_FALSE(r1[3].contains("reasoning_content"));
  EXPECT_EQ(r1[3]["content"], "<think>new thoughts</think>");
  RenderOptions o;
  std::string out = render_builtin(ChatFamily::DeepSeekR1, r1, nullptr, o);
  EXPECT_EQ(out.find("old thoughts"), std::string::npos);
  EXPECT_NE(out.find("<｜Assistant｜><think>new thoughts</think><｜tool▁calls▁begin｜>"), std::string::npos) << out;

  auto v3 = prepare_messages(msgs, chat_format(ChatFamily::DeepSeekV3));
  EXPECT_FALSE(v3[3].contains("reasoning_content"));
  EXPECT_TRUE(v3[3]["content"].is_null());  // V3 marks tool-call turns by null content
  auto q3 = prepare_messages(msgs, chat_format(ChatFamily::Qwen3));
  EXPECT_FALSE(q3[1].contains("reasoning_content"));
  EXPECT_EQ(q3[3]["reasoning_content"], "new thoughts");  // Qwen3's template reads the key
}

}  // namespace
}  // namespace whale::chat
