// A read-only memory map of a whole file. Model weights are viewed in place through it and
// never copied, so a model larger than RAM still loads (pages come in on demand).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace whale {

class MappedFile {
 public:
  // Maps `path` read-only. Throws whale::Error naming the path when it does not exist, is a
  // directory or not a regular file, cannot be opened or mapped. An empty file maps to
  // data() == nullptr, size() == 0.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Touches every page so later reads do not fault; calls progress(done, total) now and then.
  void prefault(void (*progress)(size_t done, size_t total, void* ctx) = nullptr,
                void* ctx = nullptr) const;

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace whale
