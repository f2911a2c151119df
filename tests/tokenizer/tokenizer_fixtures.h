// Test helpers: the fixture tokenizers (loaded once per test binary) and jsonl reading.
// deepseek-r1 and r1-distill-qwen are built from their overrides.json as the fixture README says.
#pragma once
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace whale::testing {

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(p, std::ios::binary);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// vocab: "deepseek-v3", "deepseek-r1", "qwen3", "r1-distill-qwen".
inline std::unique_ptr<tokenizer::Tokenizer> build_fixture_tokenizer(const std::string& vocab) {
  using nlohmann::json;
  const auto dir = fixture("tokenizer");
  if (vocab == "deepseek-v3" || vocab == "qwen3") return tokenizer::Tokenizer::from_hf(dir / vocab);
  const json ov = json::parse(read_all(dir / vocab / "overrides.json"));
  const auto base = (dir / vocab / ov.at("base_tokenizer_json").get<std::string>()).lexically_normal();
  json tj = json::parse(read_all(base));
  if (ov.contains("replace_added_tokens_by_id")) {
    for (const json& r : ov["replace_added_tokens_by_id"])
      for (json& a : tj["added_tokens"])
        if (a["id"] == r["id"]) a = r;
  }
  if (ov.contains("replace_all_added_tokens")) tj["added_tokens"] = ov["replace_all_added_tokens"];
  if (ov.contains("replace_post_processor")) tj["post_processor"] = ov["replace_post_processor"];
  return tokenizer::Tokenizer::from_hf_json(tj, ov.value("tokenizer_config", json()), vocab);
}

// Cached per process: the big JSON files take a while to parse.
inline const tokenizer::Tokenizer& fixture_tokenizer(const std::string& vocab) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<tokenizer::Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[vocab];
  if (!slot) slot = build_fixture_tokenizer(vocab);
  return *slot;
}

inline std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

}  // namespace whale::testing
