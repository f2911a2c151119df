#include "server/errors.h"

#include <nlohmann/json.hpp>

namespace whale::server {

ApiError::ApiError(int status, std::string type, std::string message, std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(std::move(type)),
      code_(std::move(code)) {}

std::string error_body(const ApiError& error) {
  nlohmann::ordered_json body;
  body["error"]["message"] = error.what();
  body["error"]["type"] = error.type();
  body["error"]["param"] = nullptr;
  body["error"]["code"] = error.code();
  // Replace invalid UTF-8 (an echoed client value) instead of throwing while reporting an error.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError bad_request(const std::string& message) {
  return ApiError(400, "invalid_request_error", message);
}
ApiError unauthorized(const std::string& message) {
  return ApiError(401, "authentication_error", message);
}
ApiError not_found(const std::string& message) {
  return ApiError(404, "invalid_request_error", message);
}
ApiError method_not_allowed(const std::string& message) {
  return ApiError(405, "invalid_request_error", message);
}
ApiError payload_too_large(const std::string& message) {
  return ApiError(413, "invalid_request_error", message);
}
ApiError rate_limited(const std::string& message) {
  return ApiError(429, "rate_limit_error", message, "rate_limit_error");
}
ApiError internal_error(const std::string& message) {
  return ApiError(500, "server_error", message, "server_error");
}
ApiError unavailable(const std::string& message) {
  return ApiError(503, "unavailable_error", message, "unavailable_error");
}

ApiError json_parse_error(const std::string& detail) {
  return bad_request("Failed to parse the request body as JSON: " + detail);
}

ApiError deserialize_error(const std::string& detail, bool e2_profile) {
  return ApiError(e2_profile ? 422 : 400, "invalid_request_error",
                  "Failed to deserialize the JSON body into the target type: " + detail);
}

}  // namespace whale::server
