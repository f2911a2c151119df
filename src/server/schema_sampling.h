// The request fields /chat/completions and /completions share (spec api.md §2.1, §2.5, §6):
// sampling knobs, stop strings, stream options and the extensions top_k, min_p, seed. Read in
// the types phase, range-checked in the ranges phase, and applied to the engine's sampling
// parameters, so both endpoints accept and reject exactly the same values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sampling/sampling_params.h"
#include "server/api_config.h"
#include "server/json_fields.h"

namespace whale::server {

struct SharedFields {
  std::optional<double> temperature, top_p, frequency_penalty, presence_penalty, min_p;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false, include_usage = false;
};

// Types phase: deserialize errors naming the field ("stop[1]: invalid type: ...").
SharedFields read_shared_fields(const JsonFields& f);

// Ranges phase: 400 "Invalid <field> value, the valid range of <field> is [..]".
void check_shared_ranges(const SharedFields& c, const ApiConfig& config);

// Sampling from the shared fields: the §2.5 temperature mapping, top_p, penalties, top_k,
// min_p, seed.
void apply_shared_sampling(const SharedFields& c, const ApiConfig& config, sampling::SamplingParams& s);

// "Invalid <field> value, the valid range of <field> is <range>".
std::string range_message(const std::string& field, const std::string& range);

}  // namespace whale::server
