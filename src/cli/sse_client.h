// A streaming chat-completions client for load generation: sends one `stream: true` request
// and times the server-sent events as they arrive (spec api.md §3.4), without buffering the
// whole response first.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace httplib {
class Client;
}

namespace whale::cli {

// Incremental server-sent-events reader. Bytes may arrive split anywhere (inside a line, inside
// a UTF-8 sequence); complete events come out once their blank line has been read. Lines end
// in "\n" or "\r\n"; comment lines (": keep-alive") are skipped; several "data:" lines of one
// event are joined with "\n" as the SSE standard says. Not thread-safe; one per stream.
class SseReader {
 public:
  using OnData = std::function<void(std::string_view payload)>;
  void feed(std::string_view bytes, const OnData& on_data);

 private:
  void line(std::string_view l, const OnData& on_data);
  std::string partial_;   // the unfinished last line
  std::string data_;      // data of the event being read
  bool has_data_ = false;
};

// Where to send chat requests: "http://host:port" (path /v1/chat/completions) or with a base
// path, "http://host:port/base" (path /base/chat/completions). Throws whale::Error on a URL
// without scheme or host.
struct ApiEndpoint {
  std::string origin;     // scheme://host:port, as httplib::Client takes it
  std::string chat_path;  // e.g. /v1/chat/completions
};
ApiEndpoint parse_api_url(const std::string& url);

// What one streamed request did, timed from the moment before it was sent. `error` is empty
// when the server answered 200, sent no error event and ended with [DONE].
struct StreamResult {
  std::string error;
  int http_status = 0;
  double ttft_s = -1;             // to the first non-empty content / reasoning / tool-call delta
  std::vector<double> gaps_s;     // between consecutive such deltas (inter-token latency)
  double total_s = 0;             // to the end of the stream
  int deltas = 0;                 // such deltas seen
  int64_t completion_tokens = -1; // from usage; -1 when the stream carried none
  int64_t prompt_tokens = -1;
  int64_t cached_prompt_tokens = -1;  // prompt_cache_hit_tokens
  std::string finish_reason;
};

// Sends `body` (a chat-completions request with "stream": true) and reads the stream to its
// end. Never throws for a server or transport failure: they are reported in `error`. The
// client's timeouts apply. `api_key` empty: no Authorization header.
StreamResult stream_chat(httplib::Client& client, const std::string& path, const std::string& api_key,
                         const std::string& body);

}  // namespace whale::cli
