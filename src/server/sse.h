// Server-sent events framing (spec api.md §3.4): each event is "data: <compact JSON>" and a
// blank line; the stream ends with "data: [DONE]"; ": keep-alive" comments fill long waits.
#pragma once
#include <string>
#include <string_view>

namespace whale::server {

std::string sse_event(std::string_view data);  // "data: " + data + "\n\n"
std::string sse_done();                        // "data: [DONE]\n\n"
std::string sse_keepalive();                   // ": keep-alive\n\n"

}  // namespace whale::server
