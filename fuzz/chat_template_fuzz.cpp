// Fuzzes the chat layer: random bytes as a Jinja template source and as template variables,
// and as model output for the reasoning and tool-call parsers. Input layout: template source,
// then a NUL byte, then JSON for the variables (or, if it is not JSON, a string that becomes
// the content of one user message). Nothing may crash, hang or leak; whale::Error is fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "chat/reasoning.h"
#include "chat/tool_calls.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::size_t nul = input.find('\0');
  std::string src = input.substr(0, nul);
  std::string vars = nul == std::string::npos ? std::string() : input.substr(nul + 1);

  nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(vars, nullptr, false);
  if (ctx.is_discarded() || !ctx.is_object()) {
    ctx = nlohmann::ordered_json::object();
    // Invalid UTF-8 cannot be stored in JSON; the server never passes it either.
    nlohmann::ordered_json content = nlohmann::ordered_json::parse("\"\"");
    try {
      content = vars;
      (void)content.dump();
    } catch (const nlohmann::json::exception&) {
      content = "x";
    }
    ctx["messages"] = nlohmann::ordered_json::array({{{"role", "user"}, {"content", content}}});
  }
  ctx["add_generation_prompt"] = true;
  ctx["bos_token"] = "<s>";

  // Tight limits keep every run fast (libFuzzer -timeout catches hangs).
  whale::chat::jinja::RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_loop_iterations = 1 << 16;
  limits.max_range = 1 << 14;
  try {
    whale::chat::jinja::render(src, ctx, limits);
  } catch (const whale::Error&) {
  }
  try {
    whale::chat::detect_family(src);
    if (ctx.contains("messages"))
      whale::chat::render_builtin(whale::chat::ChatFamily::DeepSeekR1_0528, ctx["messages"], nullptr, {});
  } catch (const whale::Error&) {
  }

  // The same bytes as model output, cut in two at an input-chosen point.
  std::size_t cut = size ? data[0] % (input.size() + 1) : 0;
  whale::chat::ReasoningSplitter rs(size && (data[0] & 1));
  rs.feed(input.substr(0, cut));
  rs.feed(input.substr(cut));
  rs.finish();
  whale::chat::ToolCallParser tp(size && (data[0] & 2));
  tp.feed(input.substr(0, cut));
  tp.feed(input.substr(cut));
  tp.finish();
  return 0;
}
