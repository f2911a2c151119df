// Fuzzes the server's request path: random bytes as the body of POST /chat/completions and
// POST /completions, through the same functions the HTTP handlers call (JSON parse with the
// hosted error wording, schema checks under both compat profiles, tools / tool_choice /
// response_format rules, then the whole handler over a model-free backend, streaming and not).
// The same bytes also go through the real chat output parser as model output, configured like a
// forced tool call. Nothing may crash, hang or leak; ApiError and whale::Error are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../tests/server/fake_backend.h"
#include "server/chat_output_parser.h"
#include "server/errors.h"
#include "server/handler.h"
#include "server/request_body.h"
#include "server/schema_chat.h"
#include "server/schema_completion.h"

namespace {

using namespace whale::server;

// Drives a handler reply to its end like the HTTP layer would (streaming or not).
void drain(HandlerReply& reply) {
  if (!reply.producer) return;
  std::string sink;
  const WriteFn write = [&sink](std::string_view b) {
    sink.append(b);
    return sink.size() < (1u << 20);
  };
  for (int i = 0; i < 100000 && reply.producer(write); ++i) {
  }
}

void run_handler(const std::string& body, bool chat, Compat compat) {
  testing::FakeBackend backend;
  backend.respond = [](const std::string& prompt) {
    // Output that exercises reasoning and tool-call splitting, and stop strings.
    return std::string("a</think>b<call f>{\"x\":1}</call>") + prompt.substr(0, 32);
  };
  Metrics metrics;
  ApiConfig api;
  api.compat = compat;
  api.n_ctx = 4096;
  ServerContext ctx{backend, api, metrics, std::chrono::milliseconds(10000),
                    std::chrono::milliseconds(10000), false};
  auto scope = std::make_shared<RequestScope>(ctx, chat ? "/chat/completions" : "/completions", "POST");
  try {
    HandlerReply reply = chat ? handle_chat_completions(ctx, scope, body)
                              : handle_completions(ctx, scope, body);
    drain(reply);
    scope->complete(reply.status);
  } catch (const ApiError& e) {
    scope->complete(e.status());
    (void)error_body(e);
  } catch (const whale::Error&) {
  }
}

void run_output_parser(const std::string& text, uint8_t selector) {
  // DeepSeek-V3 markers, as real_backend writes them for a forced call.
  static const std::string kCallsBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  static const std::string kCallsEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
  static const std::string kCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  static const std::string kCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
  static const std::string kSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";
  ChatParserConfig c;
  c.thinking = selector & 1;
  c.start_inside = selector & 2;
  c.tools = selector & 4;
  c.accept_xml = selector & 8;
  if (selector & 16) {
    c.forced_call_prefix = kCallsBegin + kCallBegin + "function" + kSep;
    if (selector & 32) c.forced_call_prefix += "f\n```json\n";
    c.forced_call_suffix = "\n```" + kCallEnd + kCallsEnd;
  }
  ChatOutputParser p(c);
  std::vector<OutputPiece> out;
  const size_t cut = text.empty() ? 0 : selector % (text.size() + 1);
  p.push(text.substr(0, cut), out);
  p.push(text.substr(cut), out);
  p.finish(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  // Schema checks alone under both profiles (cheap, the bulk of the rules).
  nlohmann::json json;
  bool parsed = false;
  try {
    json = parse_request_body(body);
    parsed = true;
  } catch (const ApiError& e) {
    (void)error_body(e);
  }
  if (parsed) {
    for (Compat compat : {Compat::kE3, Compat::kE2}) {
      ApiConfig api;
      api.compat = compat;
      api.models.push_back({"my-reasoner", true});
      try {
        parse_chat_request(json, api);
      } catch (const ApiError&) {
      }
      try {
        parse_completion_request(json, api);
      } catch (const ApiError&) {
      }
    }
    // The whole handlers over the fake backend (only for parseable bodies: the rest stop at
    // the JSON parse, already covered above).
    run_handler(body, true, (size & 1) ? Compat::kE2 : Compat::kE3);
    run_handler(body, false, Compat::kE3);
  }
  run_output_parser(body, size ? data[size - 1] : 0);
  return 0;
}
