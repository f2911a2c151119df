#include "server/schema_completion.h"

#include "server/errors.h"
#include "server/json_fields.h"
#include "server/schema_chat.h"
#include "server/schema_sampling.h"

namespace whale::server {

using nlohmann::json;

CompletionRequest parse_completion_request(const json& body, const ApiConfig& config) {
  const bool e2 = config.compat == Compat::kE2;
  if (!body.is_object())
    throw deserialize_error("invalid type: " + describe_json_value(body) +
                                ", expected struct CompletionRequest", e2);
  JsonFields f(body, "", e2);
  CompletionRequest r;
  // --- Types.
  r.model = f.req_string("model");
  r.prompt = f.req_string("prompt");
  r.suffix = f.opt_string("suffix");
  const auto max_tokens = f.opt_int("max_tokens");
  r.echo = f.opt_bool("echo").value_or(false);
  const auto logprobs = f.opt_int("logprobs");
  const SharedFields shared = read_shared_fields(f);
  r.stop = shared.stop;
  r.stream = shared.stream;
  r.include_usage = shared.include_usage;
  // --- Ranges.
  if (max_tokens) {
    if (*max_tokens < 1 || *max_tokens > kFimMaxTokensLimit)
      throw bad_request(range_message("max_tokens", "[1, " + std::to_string(kFimMaxTokensLimit) + "]"));
    r.max_tokens = static_cast<int32_t>(*max_tokens);
    r.max_tokens_given = true;
  }
  check_shared_ranges(shared, config);
  if (logprobs) {
    if (*logprobs > 20) throw bad_request(range_message("logprobs", "[0, 20]"));
    r.logprobs = static_cast<int32_t>(*logprobs);
  }
  // --- Model rules: FIM is for the non-thinking model only.
  const ServedModel* served = config.find_model(r.model);
  if (!served || served->thinking) throw bad_request("Model Not Exist");
  if (r.suffix && !config.fim_available)
    throw bad_request("Invalid suffix value, this model has no fill-in-the-middle tokens");
  auto& s = r.sampling;
  apply_shared_sampling(shared, config, s);
  s.top_logprobs = r.logprobs;
  return r;
}

}  // namespace whale::server
