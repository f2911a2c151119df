// Byte sizes on the command line (--cache-ram 8G, --cache-disk 20GiB, --cache-ram 0).
#pragma once
#include <cstdint>
#include <string>

namespace whale::cli {

// "1073741824", "512M", "1.5G", "20GiB", "64k" (K/M/G/T with an optional "B" or "iB", powers of
// 1024 either way, case-insensitive). Throws whale::Error naming the text when it is not a size.
int64_t parse_byte_size(const std::string& text);

// 1536 -> "1.5 KiB"; for messages.
std::string format_byte_size(int64_t bytes);

}  // namespace whale::cli
