// Built-in (non-Jinja) renderers of the DeepSeek chat formats. Each reproduces its reference
// template's output byte for byte, quirks included (tokenizer-and-chat.md §6.2-6.3; checked
// against chat/renders.jsonl by the tests), and raises where the template raises.
// V2 and V3.1 have no fixtures; they follow the published templates as documented below.
#include <string>

#include "chat/chat_template.h"
#include "chat/jinja.h"

namespace whale::chat {
namespace {

using nlohmann::ordered_json;
using jinja::TemplateRenderError;

const char kUser[] = "<｜User｜>";
const char kAssistant[] = "<｜Assistant｜>";
const char kEos[] = "<｜end▁of▁sentence｜>";
const char kCallsBegin[] = "<｜tool▁calls▁begin｜>";
const char kCallsEnd[] = "<｜tool▁calls▁end｜>";
const char kCallBegin[] = "<｜tool▁call▁begin｜>";
const char kCallEnd[] = "<｜tool▁call▁end｜>";
const char kSep[] = "<｜tool▁sep｜>";
const char kOutputsBegin[] = "<｜tool▁outputs▁begin｜>";
const char kOutputsEnd[] = "<｜tool▁outputs▁end｜>";
const char kOutputBegin[] = "<｜tool▁output▁begin｜>";
const char kOutputEnd[] = "<｜tool▁output▁end｜>";

// Python type name of a JSON value as the reference (Jinja2) would see it.
std::string py_type(const ordered_json* v) {
  if (!v) return "Undefined";
  switch (v->type()) {
    case ordered_json::value_t::null: return "NoneType";
    case ordered_json::value_t::string: return "str";
    case ordered_json::value_t::boolean: return "bool";
    case ordered_json::value_t::number_float: return "float";
    case ordered_json::value_t::array: return "list";
    case ordered_json::value_t::object: return "dict";
    default: return "int";
  }
}

const ordered_json* field(const ordered_json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// A string operand of `+`; anything else fails like Python/Jinja2 would.
const std::string& str_operand(const ordered_json* v, const char* what) {
  if (v && v->is_string()) return v->get_ref<const std::string&>();
  if (!v) throw TemplateRenderError(whale::str_cat("UndefinedError: ", what, " is undefined"));
  throw TemplateRenderError(whale::str_cat("TypeError: can only concatenate str (not \"", py_type(v), "\") to str"));
}

std::string role_of(const ordered_json& m) {
  const ordered_json* r = field(m, "role");
  return r && r->is_string() ? r->get<std::string>() : std::string();
}

bool is_none(const ordered_json* v) { return v && v->is_null(); }

// `'</think>' in content` then `content.split('</think>')[-1]`.
std::string strip_think(const ordered_json* content) {
  const std::string& c = [&]() -> const std::string& {
    if (content && content->is_string()) return content->get_ref<const std::string&>();
    if (!content) throw TemplateRenderError("UndefinedError: content is undefined");
    if (content->is_null()) throw TemplateRenderError("TypeError: argument of type 'NoneType' is not iterable");
    throw TemplateRenderError(whale::str_cat("TypeError: argument of type '", py_type(content), "' is not iterable"));
  }();
  std::size_t p = c.rfind("</think>");
  return p == std::string::npos ? c : c.substr(p + 8);
}

// Iterates message['tool_calls'] as Jinja2 would: undefined -> nothing; null -> TypeError.
const ordered_json& tool_list(const ordered_json& m) {
  static const ordered_json empty = ordered_json::array();
  const ordered_json* t = field(m, "tool_calls");
  if (!t) return empty;
  if (t->is_array()) return *t;
  if (t->is_object()) return empty;  // iterating a dict gives keys; calls would fail below anyway
  throw TemplateRenderError(whale::str_cat("TypeError: '", py_type(t), "' object is not iterable"));
}

// type<｜tool▁sep｜>name\n```json\nargs\n```<｜tool▁call▁end｜>
std::string fenced_call(const ordered_json& tool) {
  const ordered_json* fn = field(tool, "function");
  std::string out = str_operand(field(tool, "type"), "tool['type']");
  out += kSep;
  out += str_operand(fn ? field(*fn, "name") : nullptr, "tool['function']['name']");
  out += "\n```json\n";
  out += str_operand(fn ? field(*fn, "arguments") : nullptr, "tool['function']['arguments']");
  out += "\n```";
  out += kCallEnd;
  return out;
}

std::string system_prompt(const ordered_json& messages, bool last_wins) {
  std::string sys;
  bool first = true;
  for (const auto& m : messages) {
    if (role_of(m) != "system") continue;
    const std::string& c = str_operand(field(m, "content"), "system content");
    if (last_wins) sys = c;
    else sys += (first ? "" : "\n\n") + c;
    first = false;
  }
  return sys;
}

struct Flags {
  bool is_first = false;  // a tool call was already written
  bool is_tool = false;   // inside a tool-output block
  bool is_output_first = true;
};

std::string tool_output(const ordered_json& m, Flags& f, const char* separator) {
  f.is_tool = true;
  std::string out;
  if (f.is_output_first) {
    out += kOutputsBegin;
    f.is_output_first = false;
  } else {
    out += separator;
  }
  out += kOutputBegin;
  out += str_operand(field(m, "content"), "tool content");
  out += kOutputEnd;
  return out;
}

// V3 and the Distill templates: tool-call messages are recognised by null content.
std::string render_v3_like(const ordered_json& messages, const RenderOptions& o, bool distill,
                           const char* generation_prompt) {
  std::string out = o.bos_token + system_prompt(messages, distill);
  Flags f;
  for (const auto& m : messages) {
    std::string role = role_of(m);
    const ordered_json* content = field(m, "content");
    if (role == "user") {
      f.is_tool = false;
      out += kUser + str_operand(content, "user content");
    }
    if (role == "assistant" && is_none(content)) {
      f.is_tool = false;
      for (const auto& tool : tool_list(m)) {
        if (!f.is_first) {
          out += std::string(kAssistant) + kCallsBegin + kCallBegin + fenced_call(tool);
          f.is_first = true;
        } else {
          out += "\n" + std::string(kCallBegin) + fenced_call(tool) + kCallsEnd + kEos;
        }
      }
    }
    if (role == "assistant" && !is_none(content)) {
      if (f.is_tool) {
        out += kOutputsEnd + str_operand(content, "assistant content") + kEos;
        f.is_tool = false;
      } else {
        out += kAssistant + (distill ? strip_think(content) : str_operand(content, "assistant content")) + kEos;
      }
    }
    if (role == "tool") out += tool_output(m, f, "\n");
  }
  if (f.is_tool) out += kOutputsEnd;
  if (o.add_generation_prompt && !f.is_tool) out += generation_prompt;
  return out;
}

std::string render_r1(const ordered_json& messages, const RenderOptions& o) {
  std::string out = o.bos_token + system_prompt(messages, false);
  Flags f;
  for (const auto& m : messages) {
    std::string role = role_of(m);
    const ordered_json* content = field(m, "content");
    bool has_calls = field(m, "tool_calls") != nullptr;
    if (role == "user") {
      f.is_tool = false;
      out += kUser + str_operand(content, "user content");
    }
    if (role == "assistant" && has_calls) {
      f.is_tool = false;
      for (const auto& tool : tool_list(m)) {
        if (!f.is_first) {
          out += kAssistant;
          if (!is_none(content)) out += str_operand(content, "assistant content");
          out += std::string(kCallsBegin) + kCallBegin + fenced_call(tool);
          f.is_first = true;
        } else {
          out += "\n" + std::string(kCallBegin) + fenced_call(tool);
        }
      }
      out += std::string(kCallsEnd) + kEos;
    }
    if (role == "assistant" && !has_calls) {
      if (f.is_tool) {
        out += kOutputsEnd + str_operand(content, "assistant content") + kEos;
        f.is_tool = false;
      } else {
        out += kAssistant + strip_think(content) + kEos;
      }
    }
    if (role == "tool") out += tool_output(m, f, "");
  }
  if (f.is_tool) out += kOutputsEnd;
  if (o.add_generation_prompt && !f.is_tool) out += std::string(kAssistant) + "<think>\n";
  return out;
}

std::string render_r1_0528(const ordered_json& messages, const RenderOptions& o) {
  std::string out = o.bos_token + system_prompt(messages, false);
  Flags f;
  bool is_last_user = false;
  for (const auto& m : messages) {
    std::string role = role_of(m);
    const ordered_json* raw = field(m, "content");
    const ordered_json* calls = field(m, "tool_calls");
    bool has_calls = calls && !calls->is_null();
    if (role == "user") {
      f.is_tool = false;
      f.is_first = false;
      is_last_user = true;
      out += kUser + str_operand(raw, "user content") + kAssistant;
    }
    ordered_json stripped;
    const ordered_json* content = raw;
    if (role == "assistant") {
      stripped = strip_think(raw);
      content = &stripped;
    }
    if (role == "assistant" && has_calls) {
      is_last_user = false;
      if (f.is_tool) out += kOutputsEnd;
      f.is_first = false;
      f.is_tool = false;
      f.is_output_first = true;
      for (const auto& tool : tool_list(m)) {
        if (!f.is_first) {
          if (!is_none(content)) out += str_operand(content, "assistant content");
          out += std::string(kCallsBegin) + kCallBegin + fenced_call(tool);
          f.is_first = true;
        } else {
          out += "\n" + std::string(kCallBegin) + fenced_call(tool);
        }
      }
      out += std::string(kCallsEnd) + kEos;
    }
    if (role == "assistant" && !has_calls) {
      is_last_user = false;
      if (f.is_tool) {
        out += kOutputsEnd + str_operand(content, "assistant content") + kEos;
        f.is_tool = false;
      } else {
        out += str_operand(content, "assistant content") + kEos;
      }
    }
    if (role == "tool") {
      is_last_user = false;
      out += tool_output(m, f, "\n");
    }
  }
  if (f.is_tool) out += kOutputsEnd;
  if (o.add_generation_prompt && !is_last_user && !f.is_tool) out += kAssistant;
  return out;
}

// DeepSeek-V3.1 (no fixture; after the published V3.1 template): thinking is chosen by the
// `thinking` variable; assistant turns open with "<｜Assistant｜></think>" (history never shows
// reasoning); tool calls are name<｜tool▁sep｜>arguments without type or code fence; tool
// outputs are single <｜tool▁output▁begin｜>…<｜tool▁output▁end｜> entries.
std::string render_v31(const ordered_json& messages, const RenderOptions& o, const ordered_json& extra) {
  bool thinking = extra.is_object() && extra.contains("thinking") && extra["thinking"].is_boolean() &&
                  extra["thinking"].get<bool>();
  std::string out = o.bos_token + system_prompt(messages, false);
  bool is_last_user = false, is_tool = false;
  for (const auto& m : messages) {
    std::string role = role_of(m);
    const ordered_json* content = field(m, "content");
    const ordered_json* calls = field(m, "tool_calls");
    if (role == "user") {
      is_last_user = true;
      is_tool = false;
      out += kUser + str_operand(content, "user content");
    } else if (role == "assistant") {
      if (is_last_user) out += std::string(kAssistant) + "</think>";
      is_last_user = false;
      is_tool = false;
      if (calls && calls->is_array() && !calls->empty()) {
        if (content && content->is_string()) out += strip_think(content);
        out += kCallsBegin;
        for (const auto& tool : *calls) {
          const ordered_json* fn = field(tool, "function");
          out += kCallBegin + str_operand(fn ? field(*fn, "name") : nullptr, "tool name") + kSep +
                 str_operand(fn ? field(*fn, "arguments") : nullptr, "tool arguments") + kCallEnd;
        }
        out += std::string(kCallsEnd) + kEos;
      } else {
        out += strip_think(content) + kEos;
      }
    } else if (role == "tool") {
      is_last_user = false;
      is_tool = true;
      out += kOutputBegin + str_operand(content, "tool content") + kOutputEnd;
    }
  }
  if (o.add_generation_prompt && !is_tool) out += std::string(kAssistant) + (thinking ? "<think>" : "</think>");
  else if (o.add_generation_prompt && is_tool) out += thinking ? "" : "</think>";
  return out;
}

// DeepSeek-V2 chat (no fixture; after the published V2-Chat template): "User: …\n\nAssistant: …<eos>".
std::string render_v2(const ordered_json& messages, const RenderOptions& o) {
  std::string out = o.bos_token;
  for (const auto& m : messages) {
    std::string role = role_of(m);
    const ordered_json* content = field(m, "content");
    if (role == "user") out += "User: " + str_operand(content, "user content") + "\n\n";
    else if (role == "assistant") out += "Assistant: " + str_operand(content, "assistant content") + o.eos_token.value_or("");
    else if (role == "system") out += str_operand(content, "system content") + "\n\n";
  }
  if (o.add_generation_prompt) out += "Assistant:";
  return out;
}

}  // namespace

std::string render_builtin(ChatFamily family, const ordered_json& messages, const ordered_json& tools,
                           const RenderOptions& options, const ordered_json& extra_context) {
  if (!messages.is_array()) whale::fail("chat messages: expected a JSON array, got ", messages.type_name());
  switch (family) {
    case ChatFamily::DeepSeekV2: return render_v2(messages, options);
    case ChatFamily::DeepSeekV3: return render_v3_like(messages, options, false, kAssistant);
    case ChatFamily::DeepSeekR1: return render_r1(messages, options);
    case ChatFamily::DeepSeekR1_0528: return render_r1_0528(messages, options);
    case ChatFamily::DeepSeekV31: return render_v31(messages, options, extra_context);
    case ChatFamily::R1DistillQwen:
    case ChatFamily::R1DistillLlama: return render_v3_like(messages, options, true, "<｜Assistant｜><think>\n");
    case ChatFamily::R1DistillLegacy: return render_v3_like(messages, options, true, kAssistant);
    default: whale::fail("chat template: no built-in renderer for family ", family_name(family));
  }
}

}  // namespace whale::chat
