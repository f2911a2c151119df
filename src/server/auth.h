// API-key checks (spec api.md §1.3). With no keys configured every request is allowed. Keys are
// compared in constant time (for equal lengths) so response timing does not leak how many
// leading characters of a guess were right.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace whale::server {

// True when a and b are equal; the time taken depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// "****" + the last 4 characters of the key (the whole key when shorter), as the hosted API
// prints it in its 401 message.
std::string mask_key(std::string_view key);

class ApiKeys {
 public:
  explicit ApiKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool enabled() const { return !keys_.empty(); }
  // Checks an Authorization header value ("" when absent). Throws ApiError 401 with the
  // hosted wording when auth is on and the key is missing or wrong. "Bearer" is
  // case-insensitive.
  void check(std::string_view authorization_header) const;

 private:
  std::vector<std::string> keys_;
};

}  // namespace whale::server
