// Chat prompt rendering (spec tokenizer-and-chat.md §6, api.md §4.3) and the facts about a
// model's chat format that the server needs to parse its output.
//
// render_chat runs the model's own Jinja template (jinja.h) exactly as transformers would. When
// the template uses a construct the Jinja subset does not implement, it falls back to the
// built-in renderer of the template's family (detect_family) and reports a warning naming the
// construct; template *runtime* errors (raise_exception, `in None`...) are reference behaviour
// and propagate as jinja::TemplateRenderError.
//
// Reasoning in history: the DeepSeek R1/R1-0528/Distill templates drop what precedes the last
// `</think>` of assistant contents themselves; V3 keeps it verbatim; no template reads a
// `reasoning_content` key except Qwen3's. prepare_messages() (below) applies the api.md §4.3 e3
// rule before rendering: reasoning_content of assistant turns before the last user message is
// removed; after it (the current tool loop) it is kept and, for DeepSeek templates that do not
// read it, folded into content as "<think>" + reasoning + "</think>" ahead of the text.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja.h"

namespace whale::chat {

enum class ChatFamily {
  DeepSeekV2,      // V2 / V2.5 / V2-Lite: "User: ...\n\nAssistant: " style
  DeepSeekV3,      // V3 / V3-0324: no thinking
  DeepSeekR1,      // R1 (current): prompt ends "<｜Assistant｜><think>\n"
  DeepSeekR1_0528, // R1-0528: the model writes <think> itself
  DeepSeekV31,     // V3.1+: hybrid, `thinking` template variable, tool calls without fences
  R1DistillQwen,   // R1-Distill on Qwen2.5 (template shared with the Llama variant)
  R1DistillLlama,  // R1-Distill on Llama 3
  R1DistillLegacy, // first (2025-01) Distill release: generation prompt without "<think>\n"
  Qwen3,           // <|im_start|> format, <tool_call> XML tool calls
  Unknown,
};

const char* family_name(ChatFamily f);

// Recognises the family from the template text (marker strings and version quirks). Distill
// Qwen vs Llama cannot be told apart from the template (they share it): R1DistillQwen is
// returned; callers that know the architecture may override.
ChatFamily detect_family(const std::string& template_src);

// How tool calls are written by the model (tool_calls.h parses all of these).
enum class ToolCallSyntax {
  None,
  DeepSeekV3,   // <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
  DeepSeekV31,  // <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>
  QwenXml,      // <tool_call>\n{"name": NAME, "arguments": ARGS}\n</tool_call>
};

struct ChatFormat {
  ChatFamily family = ChatFamily::Unknown;
  bool supports_thinking = false;  // the model can produce a <think> span
  // With thinking on, the rendered generation prompt already opened the think span, so the
  // output starts inside reasoning and only `</think>` appears (R1, Distill, V3.1 thinking).
  bool thinking_forced_open = false;
  std::string think_open = "<think>";
  std::string think_close = "</think>";
  ToolCallSyntax tool_syntax = ToolCallSyntax::None;
  // Name of the template variable that switches thinking (V3.1: "thinking"; Qwen3:
  // "enable_thinking"); empty when thinking is not switchable.
  std::string thinking_variable;
};

ChatFormat chat_format(ChatFamily family);

struct RenderOptions {
  bool add_generation_prompt = true;
  std::string bos_token = "<｜begin▁of▁sentence｜>";
  std::optional<std::string> eos_token = "<｜end▁of▁sentence｜>";  // nullopt renders as None
  // Receives warnings (e.g. "template uses unsupported filter 'foo' at line 3; using the
  // built-in DeepSeekR1 format"). May be empty.
  std::function<void(const std::string&)> warn;
  // When false an unsupported template throws instead of falling back.
  bool allow_fallback = true;
};

// Renders `messages` (JSON array of {role, content, tool_calls?, ...}) with the template.
// `tools`: JSON array of tool definitions or null. `extra_context`: JSON object whose keys are
// added as template variables (e.g. {"thinking": true}); null for none. bos_token/eos_token
// become the template variables of the same names.
// Throws jinja::TemplateSyntaxError / TemplateRenderError, or UnsupportedTemplateError when
// allow_fallback is false or the family is Unknown.
std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, const RenderOptions& options,
                        const nlohmann::ordered_json& extra_context = nullptr);

// Convenience form with the arguments in the order of the design note.
std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::ordered_json& extra_context = nullptr);

// A template parsed once (or, if it cannot be parsed by the subset, bound to its family's
// built-in renderer), for rendering many requests. Thread-safe after construction.
class ChatTemplate {
 public:
  // Never throws for a known family: an unparsable template falls back (warning via `warn`).
  // Throws jinja::TemplateSyntaxError / UnsupportedTemplateError when the family is Unknown.
  explicit ChatTemplate(const std::string& template_src,
                        const std::function<void(const std::string&)>& warn = nullptr);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;

  ChatFamily family() const { return family_; }
  const ChatFormat& format() const { return format_; }
  bool uses_builtin() const { return !parsed_; }

  // As render_chat. Falls back to the built-in renderer when rendering hits an unsupported
  // construct (and options.allow_fallback).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     const RenderOptions& options,
                     const nlohmann::ordered_json& extra_context = nullptr) const;

 private:
  ChatFamily family_;
  ChatFormat format_;
  std::unique_ptr<jinja::Template> parsed_;
};

// The built-in renderer for a family, reproducing that family's reference template output
// (the fixture renders) without Jinja. Throws jinja::TemplateRenderError where the reference
// template raises, whale::Error for Unknown.
std::string render_builtin(ChatFamily family, const nlohmann::ordered_json& messages,
                           const nlohmann::ordered_json& tools, const RenderOptions& options,
                           const nlohmann::ordered_json& extra_context = nullptr);

// api.md §4.3 (profile e3): returns a copy of `messages` ready to render for `format`.
// Assistant messages before the last user message lose `reasoning_content`; later ones keep it
// and, when the family's template ignores that key, get it folded into `content` as
// think_open + reasoning + think_close + content. Never fails.
nlohmann::ordered_json prepare_messages(const nlohmann::ordered_json& messages,
                                        const ChatFormat& format);

}  // namespace whale::chat
