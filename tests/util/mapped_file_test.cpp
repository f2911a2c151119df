#include "util/mapped_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "util/error.h"

namespace whale {
namespace {

TEST(MappedFile, MapsContents) {
  auto p = std::filesystem::temp_directory_path() / "whale_mapped_file_test.bin";
  { std::ofstream(p, std::ios::binary) << "hello"; }
  MappedFile f(p);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data()), 5), "hello");
  std::filesystem::remove(p);
}

TEST(MappedFile, DirectoryAndMissingAreClearErrors) {
  try {
    MappedFile f(std::filesystem::temp_directory_path());
    FAIL() << "no error for a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos);
  }
  EXPECT_THROW(MappedFile("/nonexistent/whale/file.gguf"), Error);
}

}  // namespace
}  // namespace whale
