// Chat template selection: run the model's Jinja template, fall back to the family's
// built-in renderer when the subset cannot run it (chat_template.h).
#include "chat/chat_template.h"

#include "chat/jinja.h"

namespace whale::chat {

using nlohmann::ordered_json;

const char* family_name(ChatFamily f) {
  switch (f) {
    case ChatFamily::DeepSeekV2: return "DeepSeekV2";
    case ChatFamily::DeepSeekV3: return "DeepSeekV3";
    case ChatFamily::DeepSeekR1: return "DeepSeekR1";
    case ChatFamily::DeepSeekR1_0528: return "DeepSeekR1_0528";
    case ChatFamily::DeepSeekV31: return "DeepSeekV31";
    case ChatFamily::R1DistillQwen: return "R1DistillQwen";
    case ChatFamily::R1DistillLlama: return "R1DistillLlama";
    case ChatFamily::R1DistillLegacy: return "R1DistillLegacy";
    case ChatFamily::Qwen3: return "Qwen3";
    case ChatFamily::Unknown: return "Unknown";
  }
  return "Unknown";
}

ChatFamily detect_family(const std::string& src) {
  auto has = [&](const char* s) { return src.find(s) != std::string::npos; };
  if (has("<｜User｜>") || has("<｜Assistant｜>")) {
    // V3.1+ open assistant turns with a closed (empty) think span and switch on `thinking`.
    if (has("<｜Assistant｜></think>")) return ChatFamily::DeepSeekV31;
    // R1-0528 writes <｜Assistant｜> right after the user turn and tracks is_last_user.
    if (has("is_last_user")) return ChatFamily::DeepSeekR1_0528;
    // The Distill templates keep only the last system message (no is_first_sp bookkeeping).
    bool joins_systems = has("is_first_sp");
    bool forced_think = has("<｜Assistant｜><think>");
    if (!joins_systems) return forced_think ? ChatFamily::R1DistillQwen : ChatFamily::R1DistillLegacy;
    if (forced_think) return ChatFamily::DeepSeekR1;
    return ChatFamily::DeepSeekV3;
  }
  if (has("<|im_start|>")) return ChatFamily::Qwen3;
  if (has("'User: '") || has("\"User: \"")) return ChatFamily::DeepSeekV2;
  return ChatFamily::Unknown;
}

ChatFormat chat_format(ChatFamily family) {
  ChatFormat f;
  f.family = family;
  switch (family) {
    case ChatFamily::DeepSeekV2: break;
    case ChatFamily::DeepSeekV3: f.tool_syntax = ToolCallSyntax::DeepSeekV3; break;
    case ChatFamily::DeepSeekR1:
      f.supports_thinking = f.thinking_forced_open = true;
      f.tool_syntax = ToolCallSyntax::DeepSeekV3;
      break;
    case ChatFamily::DeepSeekR1_0528:
      f.supports_thinking = true;
      f.tool_syntax = ToolCallSyntax::DeepSeekV3;
      break;
    case ChatFamily::DeepSeekV31:
      f.supports_thinking = f.thinking_forced_open = true;  // when the `thinking` variable is true
      f.tool_syntax = ToolCallSyntax::DeepSeekV31;
      f.thinking_variable = "thinking";
      break;
    case ChatFamily::R1DistillQwen:
    case ChatFamily::R1DistillLlama:
      f.supports_thinking = f.thinking_forced_open = true;
      f.tool_syntax = ToolCallSyntax::DeepSeekV3;
      break;
    case ChatFamily::R1DistillLegacy:
      f.supports_thinking = true;
      f.tool_syntax = ToolCallSyntax::DeepSeekV3;
      break;
    case ChatFamily::Qwen3:
      f.supports_thinking = true;
      f.tool_syntax = ToolCallSyntax::QwenXml;
      f.thinking_variable = "enable_thinking";
      break;
    case ChatFamily::Unknown: break;
  }
  return f;
}

namespace {

bool has_builtin(ChatFamily f) { return f != ChatFamily::Unknown && f != ChatFamily::Qwen3; }

ordered_json make_context(const ordered_json& messages, const ordered_json& tools, const RenderOptions& o,
                          const ordered_json& extra) {
  ordered_json ctx = ordered_json::object();
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  ctx["messages"] = messages;
  if (!tools.is_null()) ctx["tools"] = tools;
  ctx["add_generation_prompt"] = o.add_generation_prompt;
  ctx["bos_token"] = o.bos_token;
  if (o.eos_token) ctx["eos_token"] = *o.eos_token;
  else ctx["eos_token"] = nullptr;
  return ctx;
}

void warn_fallback(const RenderOptions& o, const std::function<void(const std::string&)>& warn,
                   const std::string& why, ChatFamily family) {
  std::string msg = whale::str_cat("chat template: ", why, "; using the built-in ", family_name(family), " format");
  if (o.warn) o.warn(msg);
  else if (warn) warn(msg);
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& src, const std::function<void(const std::string&)>& warn)
    : family_(detect_family(src)), format_(chat_format(family_)) {
  try {
    parsed_ = std::make_unique<jinja::Template>(src);
  } catch (const jinja::UnsupportedTemplateError& e) {
    if (!has_builtin(family_)) throw;
    if (warn) warn(whale::str_cat("chat template: ", e.what(), "; using the built-in ", family_name(family_), " format"));
  } catch (const jinja::TemplateSyntaxError& e) {
    // A shipped template is valid Jinja; failing to parse it means the subset lacks something.
    if (!has_builtin(family_)) throw;
    if (warn) warn(whale::str_cat("chat template: ", e.what(), "; using the built-in ", family_name(family_), " format"));
  }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const ordered_json& messages, const ordered_json& tools, const RenderOptions& o,
                                 const ordered_json& extra) const {
  if (!parsed_) {
    if (!o.allow_fallback) throw jinja::UnsupportedTemplateError("template (not parsable by the subset)", 0);
    return render_builtin(family_, messages, tools, o, extra);
  }
  try {
    return parsed_->render(make_context(messages, tools, o, extra));
  } catch (const jinja::UnsupportedTemplateError& e) {
    if (!o.allow_fallback || !has_builtin(family_)) throw;
    warn_fallback(o, nullptr, e.what(), family_);
    return render_builtin(family_, messages, tools, o, extra);
  }
}

std::string render_chat(const std::string& template_src, const ordered_json& messages, const ordered_json& tools,
                        const RenderOptions& options, const ordered_json& extra_context) {
  ChatTemplate t(template_src, options.allow_fallback ? options.warn : nullptr);
  if (t.uses_builtin() && !options.allow_fallback)
    throw jinja::UnsupportedTemplateError("template (not parsable by the subset)", 0);
  return t.render(messages, tools, options, extra_context);
}

std::string render_chat(const std::string& template_src, const ordered_json& messages, const ordered_json& tools,
                        bool add_generation_prompt, const std::string& bos_token, const std::string& eos_token,
                        const ordered_json& extra_context) {
  RenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = bos_token;
  o.eos_token = eos_token;
  return render_chat(template_src, messages, tools, o, extra_context);
}

ordered_json prepare_messages(const ordered_json& messages, const ChatFormat& format) {
  if (!messages.is_array()) return messages;
  std::ptrdiff_t last_user = -1;
  for (std::size_t k = 0; k < messages.size(); ++k)
    if (messages[k].is_object() && messages[k].value("role", "") == "user") last_user = static_cast<std::ptrdiff_t>(k);
  // Templates that ignore reasoning_content get the current tool loop's reasoning folded into
  // content, where the R1 templates keep it ahead of the calls. Qwen3's template reads the key.
  bool template_reads_key = format.family == ChatFamily::Qwen3;
  bool fold = format.family == ChatFamily::DeepSeekR1 || format.family == ChatFamily::DeepSeekR1_0528;
  ordered_json out = ordered_json::array();
  for (std::size_t k = 0; k < messages.size(); ++k) {
    ordered_json m = messages[k];
    if (m.is_object() && m.value("role", "") == "assistant" && m.contains("reasoning_content")) {
      bool current = static_cast<std::ptrdiff_t>(k) > last_user;
      const ordered_json rc = m["reasoning_content"];
      if (!template_reads_key || !current) m.erase("reasoning_content");
      if (current && fold && rc.is_string() && !rc.get_ref<const std::string&>().empty()) {
        std::string text = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
        m["content"] = format.think_open + rc.get<std::string>() + format.think_close + text;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace whale::chat
