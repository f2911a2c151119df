// API errors: every failure the server reports becomes one ApiError, rendered as the OpenAI
// error object {"error":{"message","type","param":null,"code"}} with its HTTP status (spec
// api.md §8). Handlers throw it; the HTTP layer catches it and writes the body.
#pragma once
#include <stdexcept>
#include <string>

namespace whale::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string message,
           std::string code = "invalid_request_error");
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_;
  std::string code_;
};

// The JSON body (compact, one line) for an error.
std::string error_body(const ApiError& error);

// Shorthands, one per status the spec names.
ApiError bad_request(const std::string& message);                      // 400
ApiError unauthorized(const std::string& message);                     // 401
ApiError not_found(const std::string& message);                        // 404
ApiError method_not_allowed(const std::string& message);               // 405
ApiError payload_too_large(const std::string& message);                // 413
ApiError rate_limited(const std::string& message);                     // 429
ApiError internal_error(const std::string& message);                   // 500
ApiError unavailable(const std::string& message);                      // 503

// "Failed to parse the request body as JSON: <detail>" (400).
ApiError json_parse_error(const std::string& detail);
// "Failed to deserialize the JSON body into the target type: <detail>"; 400 in profile e3,
// 422 in profile e2 (spec §8.3).
ApiError deserialize_error(const std::string& detail, bool e2_profile);

}  // namespace whale::server
