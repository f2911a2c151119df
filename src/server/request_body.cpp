#include "server/request_body.h"

#include "server/errors.h"

namespace whale::server {

nlohmann::json parse_request_body(const std::string& body) {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 5:
    // syntax error while parsing value - ..."; keep the reason, restate the position.
    std::string reason = e.what();
    if (auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    size_t line = 1, column = 1;
    const size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, body.size());
    for (size_t i = 0; i < end; ++i) {
      if (body[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw json_parse_error(reason + " at line " + std::to_string(line) + " column " +
                           std::to_string(column));
  } catch (const nlohmann::json::exception& e) {
    // Well-formed JSON that nlohmann cannot represent, e.g. a number that overflows a double
    // ("1e99999", found by fuzz/server_request_fuzz.cpp): still a bad body, never a crash.
    std::string reason = e.what();
    if (auto pos = reason.find("] "); pos != std::string::npos) reason = reason.substr(pos + 2);
    throw json_parse_error(reason);
  }
}

}  // namespace whale::server
