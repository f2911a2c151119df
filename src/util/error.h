// whale's one error mechanism: functions that can fail on bad input throw whale::Error with a
// message that names the thing and the offending value ("tensor blk.3.attn_q.weight: offset 912
// past end of file (size 800)"). The CLI prints it and exits 1; the server maps it to a status.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace whale {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable into one string.
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace whale
