// Regex pre-tokenizers of the byte-level BPE families (spec §2.3): an ordered list of PCRE2
// patterns (UTF + UCP, JIT-compiled), each applied with "isolated split" semantics to every
// current piece. Thread-safe after construction (match data is per call).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace whale::tokenizer {

class PreTokenizer {
 public:
  // family: "deepseek-v3", "qwen2", "deepseek-llm", "deepseek-coder", "llama-bpe", "gpt2".
  // Throws whale::Error for an unknown family.
  explicit PreTokenizer(const std::string& family);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // True for the names accepted by the constructor.
  static bool known(const std::string& family);

  // Appends the (offset, length) pieces of `text` to `out`, in order, covering all of it.
  // `text` must be valid UTF-8 (not checked again here, for speed).
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace whale::tokenizer
