// A bounds-checked little-endian cursor over an in-memory file. Every read checks the bytes
// left first and throws whale::Error naming the file, what was being read and the offset, so
// parsers built on it cannot read past the end whatever the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <bit>
#include <cstring>
#include <string>
#include <string_view>

#include "util/error.h"

namespace whale::formats {

static_assert(std::endian::native == std::endian::little,
              "whale reads model files in place and assumes a little-endian host");

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, const std::string& file)
      : data_(data), size_(size), file_(file) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  size_t size() const { return size_; }
  const std::string& file() const { return file_; }

  // Throws unless n more bytes are available; `what` names the item being read.
  void need(size_t n, std::string_view what) const {
    if (n > left())
      fail(file_, ": truncated file: ", what, " at offset ", pos_, " needs ", n,
           " bytes but only ", left(), " remain (file size ", size_, ")");
  }

  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // files are little-endian, as are our hosts
    pos_ += sizeof(T);
    return v;
  }

  // Returns a view of the next n bytes (already bounds-checked) and advances.
  std::string_view bytes(size_t n, std::string_view what) {
    need(n, what);
    std::string_view v(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& file_;
};

}  // namespace whale::formats
