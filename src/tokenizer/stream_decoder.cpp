#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace whale::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tok_(tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  tok_.v_->append_decoded(id, skip_special_, first_, pending_);
  // Emit every complete sequence; invalid bytes become U+FFFD now (the maximal-subpart rule only
  // looks ahead within one sequence, so this equals the whole-text decode); keep a tail that is
  // a proper prefix of a valid sequence.
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const size_t n = utf8::valid_length(pending_, i);
    if (n) {
      out.append(pending_, i, n);
      i += n;
    } else if (utf8::incomplete_prefix_length(pending_, i)) {
      break;
    } else {
      out += utf8::kReplacement;
      i += utf8::invalid_length(pending_, i);
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8::sanitize(pending_);
  reset();
  return out;
}

void StreamDecoder::reset() {
  pending_.clear();
  first_ = true;
}

}  // namespace whale::tokenizer
