#include "server/schema_completion.h"

#include "server/errors.h"
#include "server/json_fields.h"
#include "server/schema_chat.h"

namespace whale::server {

using nlohmann::json;

namespace {
std::string range_message(const std::string& field, const std::string& range) {
  return "Invalid " + field + " value, the valid range of " + field + " is " + range;
}
}  // namespace

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
  const auto temperature = f.opt_number("temperature");
  const auto top_p = f.opt_number("top_p");
  const auto frequency_penalty = f.opt_number("frequency_penalty");
  const auto presence_penalty = f.opt_number("presence_penalty");
  if (const json* s = f.get("stop")) {
    if (s->is_string()) {
      r.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].is_string())
          f.fail_at("stop[" + std::to_string(i) + "]",
                    "invalid type: " + describe_json_value((*s)[i]) + ", expected a string");
        r.stop.push_back((*s)[i].get<std::string>());
      }
    } else {
      f.fail_at("stop", "data did not match any variant of untagged enum StopSequences");
    }
  }
  r.stream = f.opt_bool("stream").value_or(false);
  if (const json* so = f.get("stream_options")) {
    if (!so->is_object()) f.type_error("stream_options", *so, "struct StreamOptions");
    r.include_usage = JsonFields(*so, "stream_options", e2).opt_bool("include_usage").value_or(false);
  }
  const auto top_k = f.opt_int("top_k");
  const auto min_p = f.opt_number("min_p");
  std::optional<uint64_t> seed;
  if (const json* s = f.get("seed")) {
    if (s->is_number_unsigned()) seed = s->get<uint64_t>();
    else if (s->is_number_integer()) seed = static_cast<uint64_t>(s->get<int64_t>());
    else f.type_error("seed", *s, "u64");
  }
  // --- Ranges.
  if (max_tokens) {
    if (*max_tokens < 1 || *max_tokens > kFimMaxTokensLimit)
      throw bad_request(range_message("max_tokens", "[1, " + std::to_string(kFimMaxTokensLimit) + "]"));
    r.max_tokens = static_cast<int32_t>(*max_tokens);
    r.max_tokens_given = true;
  }
  if (temperature && (*temperature < 0 || *temperature > 2))
    throw bad_request(range_message("temperature", "[0, 2.0]"));
  if (top_p && (*top_p <= 0 || *top_p > 1)) throw bad_request(range_message("top_p", "(0, 1.0]"));
  if (frequency_penalty && (*frequency_penalty < -2 || *frequency_penalty > 2))
    throw bad_request(range_message("frequency_penalty", "[-2, 2]"));
  if (presence_penalty && (*presence_penalty < -2 || *presence_penalty > 2))
    throw bad_request(range_message("presence_penalty", "[-2, 2]"));
  if (static_cast<int32_t>(r.stop.size()) > config.max_stop_strings)
    throw bad_request("Invalid stop value, at most " + std::to_string(config.max_stop_strings) +
                      " stop sequences are allowed (got " + std::to_string(r.stop.size()) + ")");
  if (logprobs) {
    if (*logprobs > 20) throw bad_request(range_message("logprobs", "[0, 20]"));
    r.logprobs = static_cast<int32_t>(*logprobs);
  }
  if (min_p && (*min_p < 0 || *min_p > 1)) throw bad_request(range_message("min_p", "[0, 1]"));
  // --- Model rules: FIM is for the non-thinking model only.
  const ServedModel* served = config.find_model(r.model);
  if (!served || served->thinking) throw bad_request("Model Not Exist");
  if (r.suffix && !config.fim_available)
    throw bad_request("Invalid suffix value, this model has no fill-in-the-middle tokens");
  auto& s = r.sampling;
  s.temperature = map_temperature(static_cast<float>(temperature.value_or(1.0)),
                                  config.deepseek_temperature_mapping);
  s.top_p = static_cast<float>(top_p.value_or(1.0));
  s.frequency_penalty = static_cast<float>(frequency_penalty.value_or(0.0));
  s.presence_penalty = static_cast<float>(presence_penalty.value_or(0.0));
  s.top_k = static_cast<int32_t>(top_k.value_or(0));
  s.min_p = static_cast<float>(min_p.value_or(0.0));
  s.seed = seed;
  s.top_logprobs = r.logprobs;
  return r;
}

}  // namespace whale::server
