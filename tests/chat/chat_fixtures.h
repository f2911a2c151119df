// Loading of the chat fixtures (shared/fixtures/tokenizer/chat) for the chat tests.
#pragma once
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fixtures.h"

namespace whale::testing {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<nlohmann::ordered_json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::ordered_json> rows;
  std::ifstream in(p, std::ios::binary);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::ordered_json::parse(line));
  return rows;
}

inline std::string chat_template_text(const std::string& name) {
  return read_text(fixture("tokenizer/chat/templates/" + name + ".jinja"));
}

}  // namespace whale::testing
