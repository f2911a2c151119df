#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "util/error.h"

namespace whale {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(path.string(), ": cannot open: ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path.string(), ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) fail(path.string(), ": not a regular file");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path.string(), ": cannot open: ", std::strerror(errno));
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail(path.string(), ": cannot map ", size_, " bytes: ", std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::prefault(void (*progress)(size_t, size_t, void*), void* ctx) const {
  if (!data_) return;
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_WILLNEED);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t step = size_t{64} << 20;  // report every 64 MiB
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < size_; off += step) {
    size_t end = std::min(size_, off + step);
    for (size_t p = off; p < end; p += page) sink = sink + data_[p];
    if (progress) progress(end, size_, ctx);
  }
  (void)sink;
}

}  // namespace whale
