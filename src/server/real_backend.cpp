#include "server/real_backend.h"

#include <algorithm>
#include <cstdio>

#include "chat/chat_template.h"
#include "chat/fim.h"
#include "model/model.h"
#include "model/model_identity.h"
#include "model/synthetic.h"
#include "sampling/auto_tool_constraint.h"
#include "sampling/json_constraint.h"
#include "sampling/schema_machine.h"
#include "sampling/tool_call_constraint.h"
#include "server/chat_output_parser.h"
#include "server/errors.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace whale::server {

namespace {

// DeepSeek tool-call markers (vocabulary strings: fullwidth bar U+FF5C, U+2581 for spaces).
const std::string kCallsBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kCallsEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kToolSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";

bool ends_with(const std::string& s, const std::string& suffix) {
  return !suffix.empty() && s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// FNV-1a, for a stable fingerprint of the loaded model.
uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

class Decoder final : public TextDecoder {
 public:
  explicit Decoder(const tokenizer::Tokenizer& tok) : dec_(tok, false) {}
  std::string push(int32_t token) override { return dec_.push(token); }
  std::string flush() override { return dec_.flush(); }

 private:
  tokenizer::StreamDecoder dec_;
};

nlohmann::ordered_json message_json(const ChatMessage& m) {
  nlohmann::ordered_json j;
  j["role"] = m.role;
  j["content"] = m.content ? nlohmann::ordered_json(*m.content) : nlohmann::ordered_json(nullptr);
  if (m.name) j["name"] = *m.name;
  if (m.has_tool_calls) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back({{"id", c.id},
                       {"type", c.type},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    j["tool_calls"] = std::move(calls);
  }
  if (m.has_reasoning_content)
    j["reasoning_content"] = m.reasoning_content ? nlohmann::ordered_json(*m.reasoning_content)
                                                 : nlohmann::ordered_json(nullptr);
  if (m.role == "tool") j["tool_call_id"] = m.tool_call_id;
  return j;
}

}  // namespace

struct RealBackend::State {
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<chat::ChatTemplate> tmpl;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<engine::Engine> engine;
  std::optional<chat::FimMarkers> fim;
  std::shared_ptr<sampling::JsonVocab> json_vocab;
  BackendInfo info;
};

struct RealBackend::PromptPlan {
  std::string text;
  ChatParserConfig parser;
  bool json_constraint = false;
  std::vector<std::string> tool_heads;  // "required" among several tools: name + separator each
  std::vector<size_t> head_tools;       // the tool (index into request.tools) of each head
  int forced_tool = -1;                 // the tool a forced call with a known name calls
  // tool_choice "auto" with strict tools: free text, calls follow the syntax and schemas.
  bool auto_strict = false;
  bool v31_syntax = false;              // else DeepSeek-V3's
};

RealBackend::RealBackend(RealBackendOptions options)
    : options_(std::move(options)), s_(std::make_unique<State>()) {}

RealBackend::~RealBackend() {
  if (s_->engine) s_->engine->shutdown(std::chrono::milliseconds(0));
}

void RealBackend::load() {
  State& s = *s_;
  const auto& path = options_.model_path;
  s.pool = std::make_unique<ThreadPool>(options_.threads);
  s.tok = tokenizer::Tokenizer::load(path);
  auto warn = [this](const std::string& w) {
    if (options_.warn_to_stderr) std::fprintf(stderr, "whale serve: warning: %s\n", w.c_str());
  };
  std::string src = s.tok->chat_template();
  try {
    s.tmpl = std::make_unique<chat::ChatTemplate>(src, warn);
  } catch (const whale::Error& e) {
    warn(str_cat("chat template of ", path.string(), " not usable (", e.what(),
                 "); using the DeepSeek-V3 format"));
    s.tmpl = std::make_unique<chat::ChatTemplate>(model::demo_chat_template(false), warn);
  }
  s.fim = chat::detect_fim_markers(
      [&](const std::string& text) { return s.tok->find(text).has_value(); });
  s.json_vocab = sampling::JsonVocab::from_tokenizer(*s.tok);
  s.model = model::load_model(path, *s.pool);
  const auto& mi = s.model->info();
  engine::EngineOptions eo = options_.engine;
  // The prompt cache's disk tier is keyed by the model's identity, so entries of another model
  // (or another KV type) can never be hit.
  if (eo.disk_cache && !eo.cache_dir.empty()) eo.model_identity = model::model_identity(path);
  if (eo.ctx_size <= 0)
    eo.ctx_size = static_cast<int>(std::min<int64_t>(mi.n_ctx_train > 0 ? mi.n_ctx_train : 8192, 8192));
  s.engine = engine::make_engine(*s.model, *s.tok, eo);
  char fp[32];
  std::snprintf(fp, sizeof fp, "fp_%010llx",
                static_cast<unsigned long long>(
                    fnv1a(mi.name + "|" + mi.architecture + "|" + std::to_string(mi.weight_bytes)) &
                    0xFFFFFFFFFFull));
  s.info.model_name = mi.name;
  s.info.system_fingerprint = fp;
  s.info.n_ctx = eo.ctx_size;
  s.info.fim = s.fim.has_value();
  loaded_ = true;
  ready_ = !stopped_;
  if (stopped_) s.engine->shutdown(std::chrono::milliseconds(0));
}

BackendInfo RealBackend::info() const { return s_->info; }

RealBackend::PromptPlan RealBackend::plan(const ChatRequest& r) const {
  const State& s = *s_;
  const chat::ChatFormat& format = s.tmpl->format();
  PromptPlan p;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  const size_t n_render = r.prefix_completion ? r.messages.size() - 1 : r.messages.size();
  for (size_t i = 0; i < n_render; ++i) messages.push_back(message_json(r.messages[i]));
  messages = chat::prepare_messages(messages, format);
  const bool tools_active = !r.tools.empty() && r.tool_choice != ToolChoice::kNone;
  nlohmann::ordered_json tools(nullptr);
  if (tools_active) {
    tools = nlohmann::ordered_json::array();
    for (const auto& t : r.tools) {
      nlohmann::ordered_json fn;
      fn["name"] = t.name;
      if (!t.description.empty()) fn["description"] = t.description;
      if (!t.parameters.is_null()) fn["parameters"] = nlohmann::ordered_json::parse(t.parameters.dump());
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
  }
  nlohmann::ordered_json extra(nullptr);
  if (!format.thinking_variable.empty()) extra = {{format.thinking_variable, r.thinking}};
  chat::RenderOptions ro;
  ro.bos_token = s.tok->bos_text();
  ro.eos_token = s.tok->eos_text();
  ro.add_generation_prompt = true;
  try {
    p.text = s.tmpl->render(messages, tools, ro, extra);
  } catch (const whale::Error& e) {
    // The template rejects this conversation (raise_exception, `in None`, ...).
    throw bad_request(std::string("Invalid messages value, the chat template rejected the "
                                  "conversation: ") + e.what());
  }
  // Thinking on any template: open the span if the template did not; close it when thinking
  // is off but the template forces it open.
  const std::string& open = format.think_open;
  const std::string& close = format.think_close;
  const bool open_at_end = ends_with(p.text, open + "\n") || ends_with(p.text, open);
  p.parser.think_open = open;
  p.parser.think_close = close;
  if (r.thinking) {
    p.parser.thinking = true;
    // Always start the answer inside the span (as R1's template does), also for templates
    // whose model would write the open tag itself: then reasoning can never leak into content.
    if (!open_at_end) p.text += open + "\n";
    p.parser.start_inside = true;
  } else if (open_at_end) {
    p.text += close + "\n\n";
  }
  if (r.prefix_completion) {
    const ChatMessage& last = r.messages.back();
    if (r.thinking) {
      if (!p.parser.start_inside) {
        p.text += open + "\n";
        p.parser.start_inside = true;
      }
      if (last.reasoning_content) p.text += *last.reasoning_content;
      if (last.content && !last.content->empty()) {
        // The reasoning is over; the continuation is answer text.
        p.text += close + "\n\n";
        p.parser.thinking = false;
      }
    }
    if (last.content) p.text += *last.content;
  }
  if (tools_active) {
    p.parser.tools = true;
    p.parser.accept_xml = format.tool_syntax == chat::ToolCallSyntax::QwenXml;
    const bool v3 = format.tool_syntax == chat::ToolCallSyntax::DeepSeekV3 ||
                    format.tool_syntax == chat::ToolCallSyntax::None;
    const bool v31 = format.tool_syntax == chat::ToolCallSyntax::DeepSeekV31;
    std::string forced_name;
    if (r.tool_choice == ToolChoice::kNamed) forced_name = r.tool_choice_name;
    if (r.tool_choice == ToolChoice::kRequired && r.tools.size() == 1) forced_name = r.tools[0].name;
    if ((v3 || v31) && (r.tool_choice == ToolChoice::kNamed || r.tool_choice == ToolChoice::kRequired)) {
      // Forced call: the prompt opens the call; for a known name the arguments are decoded
      // under the JSON constraint and the closing markers are supplied at the end.
      std::string prefix = kCallsBegin + kCallBegin;
      if (v3) prefix += "function" + kToolSep;
      // What the syntax writes between the name and the arguments.
      const std::string after_name = v3 ? std::string("\n```json\n") : kToolSep;
      if (!forced_name.empty()) {
        prefix += forced_name + after_name;
        p.json_constraint = true;
        for (size_t i = 0; i < r.tools.size(); ++i)
          if (r.tools[i].name == forced_name) p.forced_tool = static_cast<int>(i);
      } else {
        // "required" with several tools: the model picks the name, constrained to the tools'
        // names, and then writes JSON arguments.
        for (size_t i = 0; i < r.tools.size(); ++i) {
          p.tool_heads.push_back(r.tools[i].name + after_name);
          p.head_tools.push_back(i);
        }
      }
      p.parser.forced_call_suffix = (v3 ? std::string("\n```") : std::string()) + kCallEnd + kCallsEnd;
      p.text += prefix;
      p.parser.forced_call_prefix = prefix;
    }
    const bool any_strict =
        std::any_of(r.tools.begin(), r.tools.end(), [](const ToolDefinition& t) { return t.strict; });
    if ((v3 || v31) && r.tool_choice == ToolChoice::kAuto && any_strict) {
      p.auto_strict = true;
      p.v31_syntax = v31;
    }
  }
  return p;
}

std::vector<int32_t> RealBackend::encode_chat(const ChatRequest& request) {
  // The rendered prompt carries the BOS text itself (spec tokenizer-and-chat.md §2.6).
  return s_->tok->encode(plan(request).text, false, true);
}

std::vector<int32_t> RealBackend::encode_fim(const std::string& prompt,
                                             const std::optional<std::string>& suffix) {
  const State& s = *s_;
  if (suffix && !s.fim)
    throw bad_request("Invalid suffix value, this model has no fill-in-the-middle tokens");
  const std::string text =
      s.fim ? chat::build_fim_prompt(prompt, suffix, *s.fim) : prompt;
  return s.tok->encode(text, s.tok->add_bos_default(), true);
}

std::unique_ptr<TextDecoder> RealBackend::make_decoder() { return std::make_unique<Decoder>(*s_->tok); }

std::unique_ptr<OutputParser> RealBackend::make_output_parser(const ChatRequest& request) {
  const PromptPlan p = plan(request);
  if (!p.parser.thinking && !p.parser.tools) return std::make_unique<PlainOutputParser>();
  return std::make_unique<ChatOutputParser>(p.parser);
}

std::string RealBackend::token_bytes(int32_t token) const {
  try {
    return s_->tok->token_bytes(token);
  } catch (const whale::Error&) {
    return "";
  }
}

namespace {

// The compiled parameters of a strict tool (api.md §7.3), or nullptr for a non-strict one
// (arguments: any JSON object). No parameters means no arguments: "{}".
std::shared_ptr<const sampling::CompiledSchema> strict_schema(const ChatRequest& r, size_t i) {
  const ToolDefinition& t = r.tools[i];
  if (!t.strict) return nullptr;
  const nlohmann::json schema =
      t.parameters.is_null()
          ? nlohmann::json{{"type", "object"}, {"properties", nlohmann::json::object()},
                           {"additionalProperties", false}}
          : t.parameters;
  try {
    return sampling::compile_schema(schema, str_cat("tools[", i, "].function.parameters"));
  } catch (const whale::Error& e) {
    throw bad_request(std::string("Invalid ") + e.what());
  }
}

}  // namespace

std::shared_ptr<sampling::TokenConstraint> RealBackend::make_constraint(const ChatRequest& request) {
  const PromptPlan p = plan(request);
  if (p.auto_strict) {
    // Free text until the model opens a call (the call-begin marker token); the call then
    // follows the family's syntax and each strict tool's schema (sampling/auto_tool_constraint.h).
    const tokenizer::Tokenizer& tok = *s_->tok;
    const auto call_begin = tok.find(kCallBegin), sep = tok.find(kToolSep), call_end = tok.find(kCallEnd);
    if (!call_begin || !sep || !call_end) return nullptr;  // markers are not single tokens here
    sampling::AutoCallSyntax syntax;
    syntax.call_begin = *call_begin;
    std::vector<std::shared_ptr<const sampling::CompiledSchema>> schemas;
    for (size_t i = 0; i < request.tools.size(); ++i) {
      syntax.heads.push_back(request.tools[i].name + (p.v31_syntax ? "" : "\n```json\n"));
      schemas.push_back(strict_schema(request, i));
    }
    if (p.v31_syntax) {
      syntax.head_end = *sep;
      syntax.after = {{*call_end, ""}};
    } else {
      syntax.before = {{-1, "function"}, {*sep, ""}};
      syntax.after = {{-1, "\n```"}, {*call_end, ""}};
    }
    try {
      return std::make_shared<sampling::AutoToolConstraint>(s_->json_vocab, std::move(syntax),
                                                            std::move(schemas));
    } catch (const whale::Error&) {
      return nullptr;  // a name the vocabulary cannot spell: decode unconstrained
    }
  }
  if (!p.tool_heads.empty()) {
    std::vector<std::shared_ptr<const sampling::CompiledSchema>> schemas;
    for (size_t i : p.head_tools) schemas.push_back(strict_schema(request, i));
    try {
      return std::make_shared<sampling::ToolCallConstraint>(s_->json_vocab, p.tool_heads,
                                                            std::move(schemas));
    } catch (const whale::Error&) {
      // No name can be spelled with this vocabulary (not the case for byte-level BPE): decode
      // unconstrained rather than refuse; the parser still reports what the model wrote.
      return nullptr;
    }
  }
  if (!request.json_mode && !p.json_constraint) return nullptr;
  if (p.forced_tool >= 0)
    if (auto schema = strict_schema(request, static_cast<size_t>(p.forced_tool)))
      return std::make_shared<sampling::JsonConstraint>(
          s_->json_vocab, std::make_unique<sampling::SchemaMachine>(std::move(schema)));
  return std::make_shared<sampling::JsonConstraint>(s_->json_vocab);
}

std::shared_ptr<engine::Stream> RealBackend::submit(engine::GenerateRequest request) {
  return s_->engine->submit(std::move(request));
}

engine::EngineStats RealBackend::stats() const {
  // /metrics may ask while load() is still filling in the state on another thread.
  return loaded_ ? s_->engine->stats() : engine::EngineStats{};
}

void RealBackend::shutdown(std::chrono::milliseconds deadline) {
  stopped_ = true;
  ready_ = false;
  if (loaded_) s_->engine->shutdown(deadline);
}

}  // namespace whale::server
