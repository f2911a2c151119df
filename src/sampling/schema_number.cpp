#include "sampling/schema_number.h"

#include <algorithm>

namespace whale::sampling {

namespace {

using i128 = __int128;

constexpr int kScaleDigits = 15;  // units of 1e-15
constexpr int kClampDigits = 35;  // |values| past 1e35 units (1e20) are clamped

i128 pow10(int k) {
  i128 v = 1;
  for (int i = 0; i < k; ++i) v *= 10;
  return v;
}

i128 digits_value(std::string_view d) {
  i128 v = 0;
  for (char c : d) v = v * 10 + (c - '0');
  return v;
}

i128 floor_mod(i128 a, i128 m) {
  const i128 r = a % m;
  return r < 0 ? r + m : r;
}

i128 ceil_div(i128 a, i128 b) {  // b > 0
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

i128 gcd(i128 a, i128 b) {
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a < 0 ? -a : a;
}

// (a * b) mod m for 0 <= a, b < m < 2^126, without overflow.
i128 mul_mod(i128 a, i128 b, i128 m) {
  i128 r = 0;
  while (b > 0) {
    if (b & 1) r = (r + a) % m;
    a = (a + a) % m;
    b >>= 1;
  }
  return r;
}

// Inverse of a modulo m (gcd(a, m) == 1, m > 1).
i128 inverse(i128 a, i128 m) {
  i128 old_r = a, r = m, old_s = 1, s = 0;
  while (r != 0) {
    const i128 q = old_r / r;
    i128 t = old_r - q * r;
    old_r = r;
    r = t;
    t = old_s - q * s;
    old_s = s;
    s = t;
  }
  return floor_mod(old_s, m);
}

// Whether some v = g0 + j*st, 0 <= j <= n, satisfies the bounds and the multiple.
bool grid_hits(const NumberSpec& s, i128 g0, i128 st, i128 n) {
  i128 j = 0;
  if (s.has_lo && s.lo > g0) j = ceil_div(s.lo - g0, st);
  if (s.multiple > 0) {
    const i128 m = s.multiple;
    const i128 g = gcd(st, m);
    const i128 r = floor_mod(-g0, m);
    if (r % g != 0) return false;
    const i128 p = m / g;
    if (p > 1) {
      const i128 j0 = mul_mod((r / g) % p, inverse((st / g) % p, p), p);
      j += floor_mod(j0 - j, p);
    }
  }
  if (j > n) return false;
  return !s.has_hi || g0 + j * st <= s.hi;
}

struct Parts {
  bool neg = false, dot = false;
  std::string_view int_digits, frac_digits;
};

// Splits a prefix of -?(0|[1-9][0-9]*)(\.[0-9]*)?; false if it is not one.
bool split(std::string_view t, Parts& p) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') p.neg = true, ++i;
  const size_t int_start = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  p.int_digits = t.substr(int_start, i - int_start);
  if (p.int_digits.size() > 1 && p.int_digits[0] == '0') return false;
  if (i < t.size() && t[i] == '.') {
    if (p.int_digits.empty()) return false;
    p.dot = true;
    const size_t frac_start = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    p.frac_digits = t.substr(frac_start, i - frac_start);
  }
  return i == t.size();
}

bool viable_signed(const NumberSpec& s, const Parts& p) {
  const i128 scale = pow10(kScaleDigits);
  const int len_i = static_cast<int>(p.int_digits.size());
  const int len_f = static_cast<int>(p.frac_digits.size());
  const int max_frac = std::min(s.max_frac, NumberSpec::kMaxDigits - 1);
  auto hits = [&](i128 m0, i128 st, i128 n) {  // magnitudes m0 + j*st
    return p.neg ? grid_hits(s, -(m0 + n * st), st, n) : grid_hits(s, m0, st, n);
  };
  if (p.dot) {
    const int r = std::min(max_frac, NumberSpec::kMaxDigits - len_i) - len_f;
    if (r < 0 || (len_f == 0 && r == 0)) return false;
    const i128 base = digits_value(p.int_digits) * scale +
                      digits_value(p.frac_digits) * pow10(kScaleDigits - len_f);
    return hits(base, pow10(kScaleDigits - len_f - r), pow10(r) - 1);
  }
  if (len_i + len_f > NumberSpec::kMaxDigits) return false;
  const bool zero = p.int_digits == "0";
  const int last = zero ? 1 : NumberSpec::kMaxDigits;
  for (int a = std::max(len_i, 1); a <= last; ++a) {
    i128 lo, hi;  // integer part
    if (len_i == 0) {
      lo = a == 1 ? 0 : pow10(a - 1);
      hi = pow10(a) - 1;
    } else {
      const i128 k = pow10(a - len_i);
      lo = digits_value(p.int_digits) * k;
      hi = lo + k - 1;
    }
    const int fm = std::min(max_frac, NumberSpec::kMaxDigits - a);
    const i128 st = pow10(kScaleDigits - fm);
    const i128 m0 = lo * scale, m1 = hi * scale + scale - st;
    if (hits(m0, st, (m1 - m0) / st)) return true;
  }
  return false;
}

}  // namespace

__int128 number_scale() { return pow10(kScaleDigits); }

bool parse_scaled(std::string_view t, bool up, __int128& out, bool& exact) {
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) neg = t[i++] == '-';
  std::string digits;
  int frac = 0;
  bool seen_digit = false, in_frac = false;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (!(digits.empty() && c == '0')) digits.push_back(c);
      if (in_frac) ++frac;
    } else if (c == '.' && !in_frac) {
      in_frac = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return false;
  long exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) eneg = t[i++] == '-';
    if (i >= t.size()) return false;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) exp = std::min(exp * 10 + (t[i] - '0'), 100000L);
    if (eneg) exp = -exp;
  }
  if (i != t.size()) return false;
  exact = true;
  if (digits.empty()) {
    out = 0;
    return true;
  }
  // value = digits * 10^e units
  const long e = exp - frac + kScaleDigits;
  const long nd = static_cast<long>(digits.size());
  i128 mag;
  bool inexact = false;
  if (nd - 1 + e > kClampDigits) {
    mag = pow10(kClampDigits + 1);
    inexact = true;
  } else if (e >= 0) {
    mag = digits_value(digits) * pow10(static_cast<int>(e));
  } else {
    const long keep = nd + e;  // digits left of the unit point
    mag = keep > 0 ? digits_value(std::string_view(digits).substr(0, keep)) : 0;
    const std::string_view rest = keep > 0 ? std::string_view(digits).substr(keep) : digits;
    inexact = rest.find_first_not_of('0') != std::string_view::npos;
  }
  exact = !inexact;
  if (inexact && (up != neg)) mag += 1;  // round the magnitude away from zero
  out = neg ? -mag : mag;
  return true;
}

bool number_viable(const NumberSpec& s, std::string_view text) {
  if (text.empty()) {
    Parts pos, neg;
    neg.neg = true;
    return viable_signed(s, pos) || viable_signed(s, neg);
  }
  Parts p;
  return split(text, p) && viable_signed(s, p);
}

bool number_value_ok(const NumberSpec& s, std::string_view text) {
  Parts p;
  if (!split(text, p) || p.int_digits.empty() || (p.dot && p.frac_digits.empty())) return false;
  const int len_f = static_cast<int>(p.frac_digits.size());
  if (static_cast<int>(p.int_digits.size()) + len_f > NumberSpec::kMaxDigits ||
      len_f > s.max_frac)
    return false;
  i128 v = digits_value(p.int_digits) * pow10(kScaleDigits) +
           digits_value(p.frac_digits) * pow10(kScaleDigits - len_f);
  if (p.neg) v = -v;
  if (s.has_lo && v < s.lo) return false;
  if (s.has_hi && v > s.hi) return false;
  return s.multiple <= 0 || v % s.multiple == 0;
}

}  // namespace whale::sampling
