// Numbers of strict tool schemas (api.md §7.3: integer, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf) for SchemaMachine.
//
// Schema-constrained numbers are written in plain decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?, at most
// 15 digits in all (integer and fraction part together), no exponent. With 15 digits every such
// decimal is the only one of its kind that rounds to its double, so the exact decimal comparisons
// made here agree with a validator that compares doubles (also for exclusive bounds). Values are
// held as integers in units of 1e-15 (__int128), exactly.
//
// number_viable() says whether a prefix can still be completed to an in-range value within the
// caps; SchemaMachine refuses a byte whose result is not viable, so a number never reaches a dead
// end, and a value ends only where number_value_ok() holds.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace whale::sampling {

struct NumberSpec {
  static constexpr int kMaxDigits = 15;
  bool integer = false;
  int max_frac = kMaxDigits - 1;  // fraction digits allowed (0 for integers)
  bool has_lo = false, has_hi = false;
  __int128 lo = 0, hi = 0;  // inclusive bounds, in units of 1e-15
  __int128 multiple = 0;    // multipleOf in units of 1e-15 (0: none)
};

// Units per 1 (1e15).
__int128 number_scale();

// A decimal text (JSON number syntax, exponent allowed: bounds come from the schema) in units
// of 1e-15, rounded toward +inf (`up`) or -inf; `exact` says whether no rounding happened.
// Magnitudes past 1e20 are clamped (far beyond any 15-digit value). Returns false on bad syntax.
bool parse_scaled(std::string_view text, bool up, __int128& out, bool& exact);

// Whether `text` (a prefix of the grammar above, possibly empty or "-") can be completed to a
// value that satisfies `spec`.
bool number_viable(const NumberSpec& spec, std::string_view text);
// Whether `text` is a whole number (grammar and caps) whose value satisfies `spec`.
bool number_value_ok(const NumberSpec& spec, std::string_view text);

}  // namespace whale::sampling
