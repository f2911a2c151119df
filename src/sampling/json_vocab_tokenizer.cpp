// JsonVocab from a tokenizer (kept apart so the rest of sampling/ needs no tokenizer code).
#include "sampling/json_constraint.h"
#include "tokenizer/tokenizer.h"

namespace whale::sampling {

std::shared_ptr<JsonVocab> JsonVocab::from_tokenizer(const tokenizer::Tokenizer& tok) {
  const int32_t n = tok.vocab_size();
  std::vector<std::string> bytes(static_cast<size_t>(n));
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < n; ++id) {
    if (tok.is_eog(id)) eog.push_back(id);
    // Special and control tokens are markup, not text: never part of the JSON.
    if (!tok.is_special(id) && !tok.is_control(id)) bytes[id] = tok.token_bytes(id);
  }
  return std::make_shared<JsonVocab>(std::move(bytes), std::move(eog));
}

}  // namespace whale::sampling
