#include "server/schema_tools.h"

#include <set>

#include "sampling/schema_machine.h"
#include "server/errors.h"
#include "server/json_fields.h"
#include "util/error.h"

namespace whale::server {

using nlohmann::json;

std::vector<ToolDefinition> parse_tools(const json& tools, bool e2) {
  if (!tools.is_array())
    throw deserialize_error("tools: invalid type: " + describe_json_value(tools) +
                                ", expected a sequence", e2);
  std::vector<ToolDefinition> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string path = "tools[" + std::to_string(i) + "]";
    const json& t = tools[i];
    if (!t.is_object())
      throw deserialize_error(path + ": invalid type: " + describe_json_value(t) +
                                  ", expected struct Tool", e2);
    JsonFields f(t, path, e2);
    const std::string type = f.req_string("type");
    if (type != "function") f.fail_at("type", "unknown variant `" + type + "`, expected `function`");
    auto fit = t.find("function");
    if (fit == t.end()) f.missing("function");
    if (!fit->is_object()) f.type_error("function", *fit, "struct Function");
    JsonFields fn(*fit, path + ".function", e2);
    ToolDefinition def;
    def.name = fn.req_string("name");
    def.description = fn.opt_string("description").value_or("");
    if (const json* p = fn.get("parameters")) {
      if (!p->is_object()) fn.type_error("parameters", *p, "a map");
      def.parameters = *p;
    }
    def.strict = fn.opt_bool("strict").value_or(false);
    out.push_back(std::move(def));
  }
  return out;
}

void parse_tool_choice(const json& v, bool e2, ToolChoice& choice, std::string& name) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "none") choice = ToolChoice::kNone;
    else if (s == "auto") choice = ToolChoice::kAuto;
    else if (s == "required") choice = ToolChoice::kRequired;
    else
      throw deserialize_error("tool_choice: expected one of `none`, `auto`, `required` or a tool",
                              e2);
    return;
  }
  if (v.is_object()) {
    JsonFields f(v, "tool_choice", e2);
    const std::string type = f.req_string("type");
    if (type != "function") f.fail_at("type", "unknown variant `" + type + "`, expected `function`");
    auto fit = v.find("function");
    if (fit == v.end()) f.missing("function");
    if (!fit->is_object()) f.type_error("function", *fit, "struct FunctionName");
    name = JsonFields(*fit, "tool_choice.function", e2).req_string("name");
    choice = ToolChoice::kNamed;
    return;
  }
  throw deserialize_error("tool_choice: expected one of `none`, `auto`, `required` or a tool", e2);
}

namespace {

bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void check_strict_node(const json& s, const std::string& path, int depth) {
  if (depth > 64) throw bad_request("Invalid strict schema at " + path + ": nesting deeper than 64");
  if (!s.is_object()) {
    if (s.is_boolean()) return;
    throw bad_request("Invalid strict schema at " + path + ": a schema must be an object");
  }
  static const std::set<std::string> kUnsupported = {"minLength", "maxLength", "minItems",
                                                     "maxItems", "minProperties", "maxProperties",
                                                     "patternProperties", "uniqueItems"};
  static const std::set<std::string> kFormats = {"email", "hostname", "ipv4", "ipv6", "uuid"};
  for (const auto& [key, value] : s.items()) {
    if (kUnsupported.count(key))
      throw bad_request("Invalid strict schema at " + path + ": keyword `" + key +
                        "` is not supported in strict mode");
  }
  if (auto it = s.find("format"); it != s.end()) {
    if (!it->is_string() || !kFormats.count(it->get<std::string>()))
      throw bad_request("Invalid strict schema at " + path + ".format: format " + it->dump() +
                        " is not supported in strict mode (email, hostname, ipv4, ipv6, uuid)");
  }
  const json* type = s.contains("type") ? &s["type"] : nullptr;
  if (type && type->is_string() && type->get<std::string>() == "object") {
    const json props = s.value("properties", json::object());
    std::set<std::string> required;
    if (auto r = s.find("required"); r != s.end() && r->is_array())
      for (const auto& x : *r)
        if (x.is_string()) required.insert(x.get<std::string>());
    if (props.is_object()) {
      for (const auto& [name, sub] : props.items()) {
        if (!required.count(name))
          throw bad_request("Invalid strict schema at " + path + ": property `" + name +
                            "` must be listed in `required`");
        check_strict_node(sub, path + ".properties." + name, depth + 1);
      }
    }
    auto ap = s.find("additionalProperties");
    if (ap == s.end() || !ap->is_boolean() || ap->get<bool>())
      throw bad_request("Invalid strict schema at " + path +
                        ": `additionalProperties` must be false");
  }
  if (auto it = s.find("items"); it != s.end()) check_strict_node(*it, path + ".items", depth + 1);
  for (const char* key : {"anyOf", "oneOf", "allOf"}) {
    if (auto it = s.find(key); it != s.end() && it->is_array())
      for (size_t i = 0; i < it->size(); ++i)
        check_strict_node((*it)[i], path + "." + key + "[" + std::to_string(i) + "]", depth + 1);
  }
  for (const char* key : {"$defs", "definitions", "$def"}) {
    if (auto it = s.find(key); it != s.end() && it->is_object())
      for (const auto& [name, sub] : it->items())
        check_strict_node(sub, path + "." + key + "." + name, depth + 1);
  }
}

}  // namespace

void check_strict_schema(const json& schema, const std::string& path) {
  check_strict_node(schema, path, 0);
}

void check_tools(const std::vector<ToolDefinition>& tools, ToolChoice choice,
                 const std::string& choice_name) {
  if (tools.size() > 128)
    throw bad_request("Invalid tools value, at most 128 tools are supported (got " +
                      std::to_string(tools.size()) + ")");
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    if (!valid_tool_name(t.name))
      throw bad_request("Invalid tools[" + std::to_string(i) + "].function.name value \"" +
                        t.name + "\": use 1 to 64 characters of a-z, A-Z, 0-9, _ and -");
    if (!names.insert(t.name).second)
      throw bad_request("Invalid tools value, the function name \"" + t.name +
                        "\" appears more than once");
    if (t.strict && !t.parameters.is_null()) {
      const std::string path = "tools[" + std::to_string(i) + "].function.parameters";
      check_strict_schema(t.parameters, path);
      // What the decoder cannot enforce (unsatisfiable patterns or ranges, $ref that does not
      // resolve, recursion without a finite document) is a 400 too, naming the schema path.
      try {
        sampling::compile_schema(t.parameters, path);
      } catch (const whale::Error& e) {
        throw bad_request(std::string("Invalid ") + e.what());
      }
    }
  }
  if ((choice == ToolChoice::kRequired || choice == ToolChoice::kNamed) && tools.empty())
    throw bad_request("Invalid tool_choice value, tool_choice requires `tools` to be set");
  if (choice == ToolChoice::kNamed && !names.count(choice_name))
    throw bad_request("Invalid tool_choice value, the function \"" + choice_name +
                      "\" is not in `tools`");
}

}  // namespace whale::server
