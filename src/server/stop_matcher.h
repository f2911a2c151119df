// Stop strings over streamed text. Tokens do not line up with stop strings ("</" + "end>"), so
// text that could still turn out to be the start of a stop string is held back until it either
// completes a match or cannot anymore. The stop string itself is never emitted.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace whale::server {

class StopMatcher {
 public:
  // Empty strings are ignored (they would match everywhere).
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds generated text; returns the text that is now safe to emit. When a stop string
  // completes, returns the text before it and matched() turns true; later calls return "".
  std::string push(std::string_view text);
  // End of generation: returns what was held back (nothing after a match).
  std::string flush();
  bool matched() const { return matched_; }
  bool active() const { return !stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // held-back text: a suffix that is a prefix of some stop string
  bool matched_ = false;
};

}  // namespace whale::server
