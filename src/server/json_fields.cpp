#include "server/json_fields.h"

#include <cmath>

#include "server/errors.h"

namespace whale::server {

std::string describe_json_value(const nlohmann::json& v) {
  using nlohmann::json;
  switch (v.type()) {
    case json::value_t::string: {
      std::string s = v.get<std::string>();
      if (s.size() > 64) s = s.substr(0, 64) + "...";
      return "string " + json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer `" + v.dump() + "`";
    case json::value_t::number_float: return "floating point `" + v.dump() + "`";
    case json::value_t::boolean: return std::string("boolean `") + (v.get<bool>() ? "true" : "false") + "`";
    case json::value_t::null: return "null";
    case json::value_t::array: return "sequence";
    case json::value_t::object: return "map";
    default: return "value";
  }
}

JsonFields::JsonFields(const nlohmann::json& object, std::string path, bool e2)
    : obj_(object), path_(std::move(path)), e2_(e2) {}

std::string JsonFields::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const nlohmann::json* JsonFields::get(const std::string& key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

void JsonFields::type_error(const std::string& key, const nlohmann::json& value,
                            const char* expected) const {
  fail_at(key, "invalid type: " + describe_json_value(value) + ", expected " + expected);
}

void JsonFields::missing(const std::string& key) const {
  const std::string reason = "missing field `" + key + "`";
  throw deserialize_error(path_.empty() ? reason : path_ + ": " + reason, e2_);
}

void JsonFields::fail_at(const std::string& key, const std::string& reason) const {
  throw deserialize_error(path_of(key) + ": " + reason, e2_);
}

std::optional<std::string> JsonFields::opt_string(const std::string& key) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) type_error(key, *v, "a string");
  return v->get<std::string>();
}

std::optional<bool> JsonFields::opt_bool(const std::string& key) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) type_error(key, *v, "a boolean");
  return v->get<bool>();
}

std::optional<double> JsonFields::opt_number(const std::string& key) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) type_error(key, *v, "f32");
  const double d = v->get<double>();
  if (!std::isfinite(d)) type_error(key, *v, "f32");
  return d;
}

std::optional<int64_t> JsonFields::opt_int(const std::string& key, const char* expected) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) {  // signed or unsigned storage
    const bool negative = !v->is_number_unsigned() && v->get<int64_t>() < 0;
    if (negative || (v->is_number_unsigned() && v->get<uint64_t>() > 0xFFFFFFFFull) ||
        (!v->is_number_unsigned() && v->get<int64_t>() > 0xFFFFFFFFll))
      fail_at(key, "invalid value: integer `" + v->dump() + "`, expected " + expected);
    return v->get<int64_t>();
  }
  type_error(key, *v, expected);
}

std::string JsonFields::req_string(const std::string& key) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) missing(key);
  if (!it->is_string()) type_error(key, *it, "a string");
  return it->get<std::string>();
}

}  // namespace whale::server
