#include "server/schema_sampling.h"

#include "server/errors.h"
#include "server/schema_chat.h"

namespace whale::server {

using nlohmann::json;

std::string range_message(const std::string& field, const std::string& range) {
  return "Invalid " + field + " value, the valid range of " + field + " is " + range;
}

SharedFields read_shared_fields(const JsonFields& f) {
  SharedFields c;
  c.temperature = f.opt_number("temperature");
  c.top_p = f.opt_number("top_p");
  c.frequency_penalty = f.opt_number("frequency_penalty");
  c.presence_penalty = f.opt_number("presence_penalty");
  if (const json* s = f.get("stop")) {
    if (s->is_string()) {
      c.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].is_string())
          f.fail_at("stop[" + std::to_string(i) + "]",
                    "invalid type: " + describe_json_value((*s)[i]) + ", expected a string");
        c.stop.push_back((*s)[i].get<std::string>());
      }
    } else {
      f.fail_at("stop", "data did not match any variant of untagged enum StopSequences");
    }
  }
  c.stream = f.opt_bool("stream").value_or(false);
  if (const json* so = f.get("stream_options")) {
    if (!so->is_object()) f.type_error("stream_options", *so, "struct StreamOptions");
    c.include_usage = JsonFields(*so, "stream_options", f.e2()).opt_bool("include_usage").value_or(false);
  }
  // Extensions (not in the hosted API).
  c.top_k = f.opt_int("top_k");
  c.min_p = f.opt_number("min_p");
  if (const json* s = f.get("seed")) {
    if (s->is_number_unsigned()) c.seed = s->get<uint64_t>();
    else if (s->is_number_integer()) c.seed = static_cast<uint64_t>(s->get<int64_t>());
    else f.type_error("seed", *s, "u64");
  }
  return c;
}

void check_shared_ranges(const SharedFields& c, const ApiConfig& config) {
  if (c.temperature && (*c.temperature < 0 || *c.temperature > 2))
    throw bad_request(range_message("temperature", "[0, 2.0]"));
  if (c.top_p && (*c.top_p <= 0 || *c.top_p > 1)) throw bad_request(range_message("top_p", "(0, 1.0]"));
  if (c.frequency_penalty && (*c.frequency_penalty < -2 || *c.frequency_penalty > 2))
    throw bad_request(range_message("frequency_penalty", "[-2, 2]"));
  if (c.presence_penalty && (*c.presence_penalty < -2 || *c.presence_penalty > 2))
    throw bad_request(range_message("presence_penalty", "[-2, 2]"));
  if (static_cast<int32_t>(c.stop.size()) > config.max_stop_strings)
    throw bad_request("Invalid stop value, at most " + std::to_string(config.max_stop_strings) +
                      " stop sequences are allowed (got " + std::to_string(c.stop.size()) + ")");
  if (c.top_k && *c.top_k > 1000000) throw bad_request(range_message("top_k", "[0, 1000000]"));
  if (c.min_p && (*c.min_p < 0 || *c.min_p > 1)) throw bad_request(range_message("min_p", "[0, 1]"));
}

void apply_shared_sampling(const SharedFields& c, const ApiConfig& config, sampling::SamplingParams& s) {
  s.temperature = map_temperature(static_cast<float>(c.temperature.value_or(1.0)), config.deepseek_temperature_mapping);
  s.top_p = static_cast<float>(c.top_p.value_or(1.0));
  s.frequency_penalty = static_cast<float>(c.frequency_penalty.value_or(0.0));
  s.presence_penalty = static_cast<float>(c.presence_penalty.value_or(0.0));
  s.top_k = static_cast<int32_t>(c.top_k.value_or(0));
  s.min_p = static_cast<float>(c.min_p.value_or(0.0));
  s.seed = c.seed;
}

}  // namespace whale::server
