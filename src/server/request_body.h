// Parsing a request body as JSON with the hosted error wording (spec api.md §8.3):
// "Failed to parse the request body as JSON: <reason> at line L column C".
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace whale::server {

// Throws json_parse_error (400) on malformed JSON or invalid UTF-8.
nlohmann::json parse_request_body(const std::string& body);

}  // namespace whale::server
