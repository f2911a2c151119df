// Patterns of strict tool schemas (api.md §7.3: `pattern`, `format`) as deterministic automata
// over Unicode code points, for SchemaMachine's string values.
//
// Supported pattern syntax (an ECMA-262 subset): literals (UTF-8), escapes \d \D \w \W \s \S
// \n \r \t \f \v \0 \xHH \uHHHH and escaped punctuation (\. \\ \/ ...), `.` (anything but line
// terminators), classes [a-z] [^...] (with escapes inside), groups ( ) (?: ) (?<name> ),
// alternation |, quantifiers * + ? {m} {m,} {m,n} (lazy forms are the same language; counts at
// most 1000), anchors ^ and $. Backreferences, lookaround and \b are rejected (whale::Error).
// As JSON Schema says, a pattern matches anywhere in the string unless anchored: "a" accepts
// "xay", "^a$" only "a".
//
// The automaton only has code points that a string value can spell under SchemaMachine's
// canonical string encoding: raw UTF-8 for U+0020 and above (no surrogates), the short escapes
// \" \\ \/ \b \f \n \r \t — so U+0008-U+000A, U+000C, U+000D are the only control characters
// (no \u escapes). Every state kept can reach an accepting state (dead states are pruned); a
// pattern with no spellable match is a whale::Error.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace whale::sampling {

class CodepointDfa {
 public:
  struct Edge {
    uint32_t lo, hi;  // inclusive code point range
    int32_t to;
  };

  // The automaton of "any string" (one accepting state that loops on everything spellable).
  static CodepointDfa any_string();

  int32_t start() const { return 0; }
  int32_t size() const { return static_cast<int32_t>(accepting_.size()); }
  bool accepting(int32_t state) const { return accepting_[state] != 0; }
  // The state after `cp`, or -1 when no match can follow.
  int32_t next(int32_t state, uint32_t cp) const;
  // Whether some code point in [lo, hi] leads to a state that can still match.
  bool any_in(int32_t state, uint32_t lo, uint32_t hi) const;

  // Construction (used by the compiler below).
  std::vector<std::vector<Edge>> edges_;  // per state, sorted by lo, disjoint
  std::vector<uint8_t> accepting_;
};

// Whether a code point can be written in a canonical JSON string (see above).
bool spellable_codepoint(uint32_t cp);

// Compiles `pattern`; errors name `where` (the schema path) and the problem.
CodepointDfa compile_pattern(std::string_view pattern, const std::string& where);

// The built-in pattern of a `format` (email, hostname, ipv4, ipv6, uuid); others are an error.
CodepointDfa compile_format(std::string_view format, const std::string& where);

}  // namespace whale::sampling
