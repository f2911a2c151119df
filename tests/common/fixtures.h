// Where the external golden fixtures live, and the skip rule for tests that need them.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace whale::testing {

// $WHALE_FIXTURES, else ../shared/fixtures next to the source tree.
inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("WHALE_FIXTURES"); env && *env) return env;
  return WHALE_DEFAULT_FIXTURES;
}

// Path of a fixture file or folder, relative to the fixtures folder.
inline std::filesystem::path fixture(const std::string& rel) { return fixtures_dir() / rel; }

}  // namespace whale::testing

// Skips the current test, naming the missing path, when a fixture is absent.
#define WHALE_REQUIRE_FIXTURE(rel)                                                         \
  do {                                                                                     \
    if (!std::filesystem::exists(::whale::testing::fixture(rel)))                          \
      GTEST_SKIP() << "fixture " << ::whale::testing::fixture(rel).string()                \
                   << " not found (set WHALE_FIXTURES to the shared/fixtures folder)";     \
  } while (0)
