#include "server/sse.h"

namespace whale::server {

std::string sse_event(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  out.append("data: ").append(data).append("\n\n");
  return out;
}

std::string sse_done() { return "data: [DONE]\n\n"; }
std::string sse_keepalive() { return ": keep-alive\n\n"; }

}  // namespace whale::server
