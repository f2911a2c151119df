// libFuzzer target: the GGUF reader on arbitrary bytes must either parse or throw whale::Error
// (no crash, no sanitizer report, no huge allocation), and a parsed file's views must stay
// inside the buffer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = whale::gguf::GgufFile::parse(data, size, "fuzz.gguf");
    size_t sum = 0;
    for (const auto& t : f->tensors()) {
      whale::TensorView v = f->view(t);
      if (v.nbytes > 0) sum += v.data[0] + v.data[v.nbytes - 1];  // ASan checks the bounds
    }
    for (const auto& [key, value] : f->metadata()) {
      try {
        if (value.type() == whale::gguf::ValueType::ARRAY) {
          sum += value.array().size();
        } else if (value.is_integer()) {
          sum += f->get<uint32_t>(key);
        } else if (value.is_float()) {
          sum += static_cast<size_t>(f->get<float>(key) != 0);
        }
      } catch (const whale::Error&) {
      }
    }
    (void)f->get_or<std::string>("general.architecture", "");
    return sum == 1 ? 0 : 0;
  } catch (const whale::Error&) {
  }
  return 0;
}
