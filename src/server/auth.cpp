#include "server/auth.h"

#include <cctype>

#include "server/errors.h"

namespace whale::server {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Always scan the longer length so a short guess costs as much as a long one; the length
  // difference itself is folded into the result.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  volatile unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string mask_key(std::string_view key) {
  return "****" + std::string(key.size() > 4 ? key.substr(key.size() - 4) : key);
}

void ApiKeys::check(std::string_view header) const {
  if (!enabled()) return;
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.empty()) throw unauthorized("Authentication Fails, no api key provided");
  std::string_view key = header;
  static const std::string_view kBearer = "bearer ";
  if (header.size() >= kBearer.size()) {
    bool is_bearer = true;
    for (size_t i = 0; i < kBearer.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) is_bearer = false;
    if (is_bearer) key = header.substr(kBearer.size());
  }
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  if (key.empty()) throw unauthorized("Authentication Fails, no api key provided");
  bool ok = false;
  // Check every configured key (no early exit) so timing does not reveal which one matched.
  for (const auto& k : keys_) ok = constant_time_equal(key, k) || ok;
  if (!ok)
    throw unauthorized("Authentication Fails, Your api key: " + mask_key(key) + " is invalid");
}

}  // namespace whale::server
