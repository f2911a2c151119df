// Unicode data for NFC (generated into nfc_tables.cpp by scripts/gen_nfc_tables.py). All tables
// are sorted by their first field(s) for binary search. Hangul syllables are not listed.
#pragma once
#include <cstddef>
#include <cstdint>

namespace whale::tokenizer::nfc_data {

struct CccRange { uint32_t first, last, ccc; };        // canonical combining class != 0
struct Decomposition { uint32_t cp, first, second; };  // one level; second == 0: singleton
struct Composition { uint32_t first, second, composite; };  // primary composites only
struct QcRange { uint32_t first, last; };              // NFC_Quick_Check is No or Maybe

extern const CccRange kCcc[];
extern const size_t kCccCount;
extern const Decomposition kDecomp[];
extern const size_t kDecompCount;
extern const Composition kCompose[];
extern const size_t kComposeCount;
extern const QcRange kQcNotYes[];
extern const size_t kQcNotYesCount;

}  // namespace whale::tokenizer::nfc_data
