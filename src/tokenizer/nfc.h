// Unicode NFC normalisation (the qwen2 family's normalizer, spec §2.2), written from UAX #15:
// canonical decomposition, canonical ordering, canonical composition. Input must be valid UTF-8
// (the tokenizer splits invalid bytes off before normalising).
#pragma once
#include <string>
#include <string_view>

namespace whale::tokenizer {

// True when `s` is certainly already NFC (quick check: no code point with NFC_QC No/Maybe and
// combining classes in order). Most text passes, which keeps normalisation off the hot path.
bool nfc_quick_check(std::string_view s);

std::string nfc(std::string_view s);

}  // namespace whale::tokenizer
