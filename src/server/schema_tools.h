// Parsing and checks of `tools` and `tool_choice` (spec api.md §2.1, §7.2, §7.3).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_request.h"

namespace whale::server {

// Reads `tools` (deserialize errors for wrong shapes). Does not apply the semantic rules.
std::vector<ToolDefinition> parse_tools(const nlohmann::json& tools, bool e2);

// Reads `tool_choice` into (choice, name); an unknown string is the hosted deserialize error.
void parse_tool_choice(const nlohmann::json& value, bool e2, ToolChoice& choice, std::string& name);

// Semantic rules: name charset and length, at most 128 tools, unique names, strict schemas
// only with supported keywords (400 naming the schema path), a named tool_choice that exists.
void check_tools(const std::vector<ToolDefinition>& tools, ToolChoice choice,
                 const std::string& choice_name);

// Checks one strict-mode schema (§7.3); throws 400 naming `path` and the offending keyword.
void check_strict_schema(const nlohmann::json& schema, const std::string& path);

}  // namespace whale::server
