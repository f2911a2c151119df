// UTF-8 handling, the byte map and NFC, against the Unicode standard's and the spec's examples.
#include <gtest/gtest.h>

#include "tokenizer/byte_map.h"
#include "tokenizer/nfc.h"
#include "tokenizer/utf8.h"

namespace whale::tokenizer {
namespace {

const std::string kR = "\xEF\xBF\xBD";

TEST(Utf8, MaximalSubpartReplacement) {
  // Unicode 14 §3.9, Table 3-8: C0 AF E0 80 BF F0 81 82 41 -> 8 x U+FFFD then "A".
  std::string want;
  for (int i = 0; i < 8; ++i) want += kR;
  EXPECT_EQ(utf8::sanitize("\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41"), want + "A");
  // Table 3-11: F1 80 80 E1 80 C2 41 -> 3 x U+FFFD then "A" (truncated sequences count once).
  EXPECT_EQ(utf8::sanitize("\xF1\x80\x80\xE1\x80\xC2\x41"), kR + kR + kR + "A");
  // Spec §4: F0 9F 90 alone -> one U+FFFD; lone B3 -> one U+FFFD.
  EXPECT_EQ(utf8::sanitize("\xF0\x9F\x90"), kR);
  EXPECT_EQ(utf8::sanitize("\xB3"), kR);
  EXPECT_EQ(utf8::sanitize("\xED\xA0\x80"), kR + kR + kR);  // surrogate
  EXPECT_EQ(utf8::sanitize("a\xF0\x9F\x90\xB3"), "a\xF0\x9F\x90\xB3");
}

TEST(Utf8, IncompletePrefixes) {
  EXPECT_EQ(utf8::incomplete_prefix_length("\xF0\x9F\x90", 0), 3u);
  EXPECT_EQ(utf8::incomplete_prefix_length("\xE2", 0), 1u);
  EXPECT_EQ(utf8::incomplete_prefix_length("\xF0\x9F\x41", 0), 0u);  // can never complete
  EXPECT_EQ(utf8::incomplete_prefix_length("\xC0", 0), 0u);
}

TEST(ByteMap, SpecTable) {
  // Spec §2.4: space -> Ġ U+0120, \n -> Ċ U+010A, \t -> ĉ U+0109, 0xA0 -> ł U+0142, 0xAD -> U+0143.
  EXPECT_EQ(byte_map::to_code_point(' '), 0x120u);
  EXPECT_EQ(byte_map::to_code_point('\n'), 0x10Au);
  EXPECT_EQ(byte_map::to_code_point('\t'), 0x109u);
  EXPECT_EQ(byte_map::to_code_point(0xA0), 0x142u);
  EXPECT_EQ(byte_map::to_code_point(0xAD), 0x143u);
  EXPECT_EQ(byte_map::to_code_point(0x00), 0x100u);
  EXPECT_EQ(byte_map::to_code_point(0x7F), 0x121u);
  EXPECT_EQ(byte_map::to_code_point('A'), 0x41u);
  EXPECT_EQ(byte_map::to_code_point(0xFF), 0xFFu);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_map::to_byte(byte_map::to_code_point(b)), b);
  EXPECT_EQ(byte_map::encode("a b\n"), "a\xC4\xA0" "b\xC4\x8A");
  EXPECT_EQ(byte_map::decode("\xC3\xB0\xC5\x81\xC4\xB2\xC2\xB3"), "\xF0\x9F\x90\xB3");  // "ðŁĲ³" = 🐳
  EXPECT_EQ(byte_map::decode("<\xEF\xBD\x9CUser\xEF\xBD\x9C>"), std::nullopt);  // not mapped
}

TEST(Nfc, Uax15Examples) {
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");                           // e + acute -> é
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");          // L + V jamo -> 가
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // + T -> 각
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");                          // U+212B Angstrom -> Å
  EXPECT_EQ(nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");          // U+0958 excluded
  // UAX #15 figure: d + dot above + dot below -> ḍ + dot above (reordering, then composing).
  EXPECT_EQ(nfc("d\xCC\x87\xCC\xA3"), "\xE1\xB8\x8D\xCC\x87");
  EXPECT_EQ(nfc("\xE1\xB8\x8B\xCC\xA3"), "\xE1\xB8\x8D\xCC\x87");
  EXPECT_EQ(nfc("A\xCC\x8A\xCC\x81"), "\xC7\xBA");  // A + ring + acute -> Ǻ
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(nfc("\xE6\xA2\x81\xE6\x96\x87"), "\xE6\xA2\x81\xE6\x96\x87");  // CJK unchanged
  EXPECT_TRUE(nfc_quick_check("\xE6\xA2\x81\xE6\x96\x87 text"));
  EXPECT_FALSE(nfc_quick_check("e\xCC\x81"));
}

}  // namespace
}  // namespace whale::tokenizer
