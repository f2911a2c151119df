#include "cli/cli_util.h"

#include <unistd.h>

#include <cstdlib>

#include "model/synthetic.h"
#include "util/error.h"

namespace whale::cli {

std::optional<model::KvType> parse_kv_choice(const std::string& text) {
  if (text == "auto") return std::nullopt;
  return model::parse_kv_type(text);
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string item;
  auto flush = [&] {
    if (item.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0 || v > INT32_MAX) fail("--ids: '", item, "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
    item.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\t') flush();
    else item += c;
  }
  flush();
  return ids;
}

std::filesystem::path user_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "whale";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "whale";
  return std::filesystem::temp_directory_path() / "whale-cache";
}

std::filesystem::path demo_model_path(bool thinking) {
  // The version in the name changes whenever the demo model's contents change.
  const auto path = user_cache_dir() / (thinking ? "demo-thinking-v1.gguf" : "demo-v1.gguf");
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) fail(path.parent_path().string(), ": cannot create the cache folder: ", ec.message());
  model::SynthOptions o;
  o.shape = model::synth_shape("demo");
  o.mix = model::SynthMix::kF16;
  o.seed = 20240101;
  o.chat_template = model::demo_chat_template(thinking);
  model::write_synthetic_model(o, path);
  return path;
}

}  // namespace whale::cli
