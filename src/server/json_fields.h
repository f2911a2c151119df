// Typed reads of request JSON with the hosted API's deserialize-error wording (spec api.md §8.3):
// "<path>: invalid type: string \"1.3\", expected f32", "missing field `messages`". An explicit
// null on an optional field reads as absent (§2.1). Every failure throws deserialize_error.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace whale::server {

class JsonFields {
 public:
  // `path` prefixes messages ("messages[2]"); "" at top level. `e2` picks status 422.
  JsonFields(const nlohmann::json& object, std::string path, bool e2);

  const nlohmann::json& object() const { return obj_; }
  bool e2() const { return e2_; }
  // "messages[2].content" / "content".
  std::string path_of(const std::string& key) const;
  // The field, or nullptr when absent or null.
  const nlohmann::json* get(const std::string& key) const;

  std::optional<std::string> opt_string(const std::string& key) const;
  std::optional<bool> opt_bool(const std::string& key) const;
  std::optional<double> opt_number(const std::string& key) const;  // "f32"
  // Integers: a float or out-of-range value is a deserialize error ("expected u32").
  std::optional<int64_t> opt_int(const std::string& key, const char* expected = "u32") const;
  std::string req_string(const std::string& key) const;

  [[noreturn]] void type_error(const std::string& key, const nlohmann::json& value,
                               const char* expected) const;
  [[noreturn]] void missing(const std::string& key) const;
  [[noreturn]] void fail_at(const std::string& key, const std::string& reason) const;

 private:
  const nlohmann::json& obj_;
  std::string path_;
  bool e2_;
};

// serde's description of a JSON value: `string "x"`, `integer `5``, `floating point `1.5``,
// `boolean `true``, `null`, `sequence`, `map`.
std::string describe_json_value(const nlohmann::json& value);

}  // namespace whale::server
