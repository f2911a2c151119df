// The chat page's files (web/), embedded in the binary at build time by cmake/embed_web.cmake.
#pragma once
#include <string_view>
#include <vector>

namespace whale::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view body;  // raw bytes
};

// All embedded files, sorted by path. Immutable; safe to call from any thread.
const std::vector<WebAsset>& web_assets();

}  // namespace whale::server
