// A large zero-filled buffer straight from the OS (anonymous pages): page-aligned, committed
// only as it is touched, and backed by transparent huge pages where the kernel allows, for
// buffers that tile loads stream through (the KV pool): a tile load's 16 rows sit on up to 16
// different 4 KB pages, so TLB reach matters.
#pragma once
#include <cstddef>
#include <cstdint>

namespace whale {

class ZeroedPages {
 public:
  ZeroedPages() = default;
  // Throws whale::Error when the OS refuses.
  explicit ZeroedPages(size_t bytes);
  ~ZeroedPages();
  ZeroedPages(ZeroedPages&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  ZeroedPages& operator=(ZeroedPages&& o) noexcept;
  ZeroedPages(const ZeroedPages&) = delete;
  ZeroedPages& operator=(const ZeroedPages&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace whale
