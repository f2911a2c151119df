// Small helpers shared by the subcommands: id lists, the built-in demo model's location.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/kv_cache.h"

namespace whale::cli {

// "1,5,9" or "1 5 9" -> {1, 5, 9}; throws whale::Error naming the bad item.
std::vector<int32_t> parse_ids(const std::string& text);

// --kv-type: "auto" (none: the model's preferred type) or a type name (model::parse_kv_type).
std::optional<model::KvType> parse_kv_choice(const std::string& text);

// The built-in demo model (a small random-weight deepseek2 file with DeepSeek-V3's special
// tokens and chat format), created on first use under the user's cache folder
// ($XDG_CACHE_HOME/whale or ~/.cache/whale). `thinking` picks the variant whose chat template
// opens a <think> block (R1-style). Returns its path.
std::filesystem::path demo_model_path(bool thinking = false);

// The cache folder above.
std::filesystem::path user_cache_dir();

}  // namespace whale::cli
