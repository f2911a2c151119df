#include "tokenizer/nfc.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tokenizer/nfc_tables.h"
#include "tokenizer/utf8.h"

namespace whale::tokenizer {
namespace {

using namespace nfc_data;

// Hangul syllable arithmetic (Unicode §3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint32_t ccc_of(uint32_t cp) {
  if (cp < 0x300) return 0;
  const CccRange* end = kCcc + kCccCount;
  const CccRange* it = std::upper_bound(kCcc, end, cp,
                                        [](uint32_t c, const CccRange& r) { return c < r.first; });
  if (it == kCcc) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

bool qc_not_yes(uint32_t cp) {
  if (cp < 0x300) return false;
  const QcRange* end = kQcNotYes + kQcNotYesCount;
  const QcRange* it = std::upper_bound(kQcNotYes, end, cp,
                                       [](uint32_t c, const QcRange& r) { return c < r.first; });
  if (it == kQcNotYes) return false;
  --it;
  return cp <= it->last;
}

const Decomposition* find_decomp(uint32_t cp) {
  const Decomposition* end = kDecomp + kDecompCount;
  const Decomposition* it = std::lower_bound(
      kDecomp, end, cp, [](const Decomposition& d, uint32_t c) { return d.cp < c; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const Decomposition* d = find_decomp(cp)) {
    decompose(d->first, out);
    if (d->second) decompose(d->second, out);
    return;
  }
  out.push_back(cp);
}

// Composite of a starter and a following character, or 0.
uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kCompose + kComposeCount;
  const Composition* it = std::lower_bound(kCompose, end, std::pair(a, b),
                                           [](const Composition& c, std::pair<uint32_t, uint32_t> k) {
                                             return c.first != k.first ? c.first < k.first
                                                                       : c.second < k.second;
                                           });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

}  // namespace

bool nfc_quick_check(std::string_view s) {
  uint32_t last_ccc = 0;
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0xCC) {  // code points below U+0300 are all stable starters
      i += b < 0x80 ? 1 : 2;
      last_ccc = 0;
      continue;
    }
    const size_t n = utf8::valid_length(s, i);
    if (!n) return false;
    const uint32_t cp = utf8::decode_at(s, i, n);
    i += n;
    if (qc_not_yes(cp)) return false;
    const uint32_t c = ccc_of(cp);
    if (c != 0 && last_ccc > c) return false;
    last_ccc = c;
  }
  return true;
}

std::string nfc(std::string_view s) {
  if (nfc_quick_check(s)) return std::string(s);
  // 1. Full canonical decomposition.
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::valid_length(s, i);
    if (!n) {  // not expected (callers pass valid UTF-8); keep going without losing text
      cps.push_back(0xFFFD);
      i += utf8::invalid_length(s, i);
      continue;
    }
    decompose(utf8::decode_at(s, i, n), cps);
    i += n;
  }
  // 2. Canonical ordering: stable sort each run of non-starters by combining class.
  std::vector<uint32_t> cls(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) cls[i] = ccc_of(cps[i]);
  for (size_t i = 0; i < cps.size();) {
    if (cls[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && cls[j] != 0) ++j;
    if (j - i > 1) {
      std::vector<std::pair<uint32_t, uint32_t>> run;
      for (size_t k = i; k < j; ++k) run.emplace_back(cls[k], cps[k]);
      std::stable_sort(run.begin(), run.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; });
      for (size_t k = i; k < j; ++k) {
        cls[k] = run[k - i].first;
        cps[k] = run[k - i].second;
      }
    }
    i = j;
  }
  // 3. Canonical composition: each character combines with the last starter unless blocked
  // (an intervening character of equal or higher class, or any starter in between).
  std::vector<uint32_t> out;
  std::vector<uint32_t> out_cls;
  out.reserve(cps.size());
  long starter = -1;  // index in out of the last starter
  for (size_t i = 0; i < cps.size(); ++i) {
    const uint32_t cp = cps[i];
    const uint32_t c = cls[i];
    if (starter >= 0) {
      const uint32_t last_cls = out.size() - 1 == static_cast<size_t>(starter) ? 0 : out_cls.back();
      const bool blocked = static_cast<size_t>(starter) != out.size() - 1 &&
                           (last_cls == 0 || last_cls >= c);
      if (!blocked) {
        if (const uint32_t comp = compose_pair(out[starter], cp)) {
          out[starter] = comp;
          continue;
        }
      }
    }
    out.push_back(cp);
    out_cls.push_back(c);
    if (c == 0) starter = static_cast<long>(out.size()) - 1;
  }
  std::string r;
  r.reserve(s.size());
  for (uint32_t cp : out) utf8::append(r, cp);
  return r;
}

}  // namespace whale::tokenizer
