#include "sampling/json_machine.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace whale::sampling {

namespace {

enum Mode : uint8_t {
  kStart,      // before the top-level value
  kValue,      // a value must come (after ':' or ',' in an array)
  kArrFirst,   // after '[': a value or ']'
  kObjFirst,   // after '{': a key or '}'
  kObjKey,     // after ',' in an object: a key
  kColon,      // after a key
  kAfter,      // after a value inside a container: ',' or the closing bracket
  kDone,       // the top-level value is complete: whitespace only
  kString,
  kEscape,     // after '\'
  kHex,        // inside \uXXXX
  kUtf8,       // inside a multi-byte UTF-8 sequence (in a string)
  kNumMinus,   // "-"
  kNumZero,    // "0" or "-0"
  kNumInt,     // [1-9][0-9]*
  kNumDot,     // "."
  kNumFrac,    // ".[0-9]+"
  kNumExp,     // "e"
  kNumExpSign, // "e+" / "e-"
  kNumExpDigits,
  kLiteral,    // true / false / null
};

constexpr int kMaxExponentDigits = 2;
constexpr const char* kLiterals[3] = {"true", "false", "null"};

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }
bool number_accepting(uint8_t mode) {
  return mode == kNumZero || mode == kNumInt || mode == kNumFrac || mode == kNumExpDigits;
}

// The committed stack.
struct OwnStack {
  std::string& s;
  size_t depth() const { return s.size(); }
  char top() const { return s.back(); }
  void push(char c) { s.push_back(c); }
  void pop() { s.pop_back(); }
};

// A trial view: the committed stack, minus what was popped, plus a private top.
struct OverlayStack {
  const std::string& base;
  size_t base_len;
  std::string& local;
  size_t depth() const { return base_len + local.size(); }
  char top() const { return local.empty() ? base[base_len - 1] : local.back(); }
  void push(char c) { local.push_back(c); }
  void pop() {
    if (!local.empty())
      local.pop_back();
    else
      --base_len;
  }
};

}  // namespace

JsonMachine::JsonMachine(Options o) : opt_(o) {
  if (o.max_whitespace_run < 0 || o.max_whitespace_run > 255 || o.max_depth < 1 ||
      o.max_depth > 255 || o.max_number_length < 2 || o.max_number_length > 255)
    fail("JSON constraint: caps out of range (whitespace ", o.max_whitespace_run, ", depth ",
         o.max_depth, ", number ", o.max_number_length, ")");
  lex_.mode = kStart;
}

template <class Stack>
bool JsonMachine::start_value(Lex& lex, Stack& st, uint8_t c) const {
  switch (c) {
    case '{':
    case '[':
      if (static_cast<int>(st.depth()) >= opt_.max_depth) return false;
      st.push(c == '{' ? 'o' : 'a');
      lex.mode = c == '{' ? kObjFirst : kArrFirst;
      return true;
    case '"':
      lex.mode = kString;
      lex.in_key = 0;
      return true;
    case '-':
      lex.mode = kNumMinus;
      lex.number_len = 1;
      return true;
    case 't':
    case 'f':
    case 'n':
      lex.mode = kLiteral;
      lex.literal = c == 't' ? 0 : c == 'f' ? 1 : 2;
      lex.pos = 1;
      return true;
    default:
      if (!is_digit(c)) return false;
      lex.mode = c == '0' ? kNumZero : kNumInt;
      lex.number_len = 1;
      return true;
  }
}

template <class Stack>
bool JsonMachine::after_value_byte(Lex& lex, Stack& st, uint8_t c) const {
  const char top = st.top();
  if (c == ',') {
    lex.mode = top == 'o' ? kObjKey : kValue;
    return true;
  }
  if ((top == 'o' && c == '}') || (top == 'a' && c == ']')) {
    st.pop();
    lex.mode = st.depth() == 0 ? kDone : kAfter;
    return true;
  }
  return false;
}

template <class Stack>
bool JsonMachine::step(Lex& lex, Stack& st, uint8_t c) const {
  const auto value_done = [&] { lex.mode = st.depth() == 0 ? kDone : kAfter; };
  // Whitespace between tokens, capped; any other byte ends the run.
  const auto structural_ws = [&](bool& handled) {
    handled = is_ws(c);
    if (!handled) {
      lex.ws_run = 0;
      return true;
    }
    if (lex.ws_run >= opt_.max_whitespace_run) return false;
    ++lex.ws_run;
    return true;
  };
  bool ws = false;
  switch (lex.mode) {
    case kStart:
      if (!structural_ws(ws)) return false;
      if (ws) return true;
      if (opt_.top_level_object && c != '{') return false;
      return start_value(lex, st, c);
    case kValue:
      if (!structural_ws(ws)) return false;
      return ws || start_value(lex, st, c);
    case kArrFirst:
      if (!structural_ws(ws)) return false;
      if (ws) return true;
      if (c == ']') {
        st.pop();
        value_done();
        return true;
      }
      return start_value(lex, st, c);
    case kObjFirst:
    case kObjKey:
      if (!structural_ws(ws)) return false;
      if (ws) return true;
      if (c == '}' && lex.mode == kObjFirst) {
        st.pop();
        value_done();
        return true;
      }
      if (c != '"') return false;
      lex.mode = kString;
      lex.in_key = 1;
      return true;
    case kColon:
      if (!structural_ws(ws)) return false;
      if (ws) return true;
      if (c != ':') return false;
      lex.mode = kValue;
      return true;
    case kAfter:
      if (!structural_ws(ws)) return false;
      return ws || after_value_byte(lex, st, c);
    case kDone:
      if (!structural_ws(ws)) return false;
      return ws;
    case kString:
      if (lex.want_low && c != '\\') return false;  // a high surrogate needs its low half
      if (c == '"') {
        if (lex.in_key)
          lex.mode = kColon;
        else
          value_done();
        return true;
      }
      if (c == '\\') {
        lex.mode = kEscape;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c < 0x80) return true;
      // UTF-8 lead bytes, with the first continuation range that excludes overlong forms,
      // surrogates and code points past U+10FFFF.
      lex.utf8_lo = 0x80;
      lex.utf8_hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        lex.utf8_left = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        lex.utf8_left = 2;
        if (c == 0xE0) lex.utf8_lo = 0xA0;
        if (c == 0xED) lex.utf8_hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        lex.utf8_left = 3;
        if (c == 0xF0) lex.utf8_lo = 0x90;
        if (c == 0xF4) lex.utf8_hi = 0x8F;
      } else {
        return false;
      }
      lex.mode = kUtf8;
      return true;
    case kUtf8:
      if (c < lex.utf8_lo || c > lex.utf8_hi) return false;
      lex.utf8_lo = 0x80;
      lex.utf8_hi = 0xBF;
      if (--lex.utf8_left == 0) lex.mode = kString;
      return true;
    case kEscape:
      if (lex.want_low && c != 'u') return false;
      if (c == 'u') {
        lex.mode = kHex;
        lex.pos = 0;
        return true;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        lex.mode = kString;
        return true;
      }
      return false;
    case kHex: {
      if (!is_hex(c)) return false;
      const uint8_t v = lower(c);
      if (lex.pos == 0) {
        if (lex.want_low && v != 'd') return false;
        lex.hex_first = v;
      } else if (lex.pos == 1) {
        // Decide surrogates at the second digit so no prefix is a dead end: D800-DBFF is a
        // high half (a low half must follow), DC00-DFFF a low half (only right after a high).
        const bool d = lex.hex_first == 'd';
        const bool high = d && ((v >= '8' && v <= '9') || (v >= 'a' && v <= 'b'));
        const bool low = d && v >= 'c' && v <= 'f';
        if (lex.want_low != low) return false;
        lex.hex_first = high ? 'H' : 'x';
      }
      if (++lex.pos == 4) {
        lex.mode = kString;
        lex.want_low = lex.hex_first == 'H';
      }
      return true;
    }
    case kNumMinus:
      if (!is_digit(c)) return false;
      lex.mode = c == '0' ? kNumZero : kNumInt;
      ++lex.number_len;
      return true;
    case kNumDot:
      if (!is_digit(c)) return false;
      lex.mode = kNumFrac;
      ++lex.number_len;
      return true;
    case kNumExp:
      if (c == '+' || c == '-') {
        lex.mode = kNumExpSign;
        ++lex.number_len;
        return true;
      }
      [[fallthrough]];
    case kNumExpSign:
      if (!is_digit(c)) return false;
      lex.mode = kNumExpDigits;
      ++lex.number_len;
      lex.exp_digits = 1;
      return true;
    case kNumZero:
    case kNumInt:
    case kNumFrac:
    case kNumExpDigits: {
      const bool room = lex.number_len < opt_.max_number_length &&
                        (lex.mode != kNumExpDigits || lex.exp_digits < kMaxExponentDigits);
      if (is_digit(c) && lex.mode != kNumZero) {
        if (!room) return false;
        ++lex.number_len;
        if (lex.mode == kNumExpDigits) ++lex.exp_digits;
        return true;
      }
      if (c == '.' && (lex.mode == kNumZero || lex.mode == kNumInt)) {
        lex.mode = kNumDot;
        ++lex.number_len;
        return true;
      }
      if ((c == 'e' || c == 'E') && lex.mode != kNumExpDigits) {
        lex.mode = kNumExp;
        ++lex.number_len;
        return true;
      }
      // Any other byte ends the number and is read as what follows a value.
      value_done();
      lex.ws_run = 0;
      return step(lex, st, c);
    }
    case kLiteral: {
      const char* lit = kLiterals[lex.literal];
      if (c != static_cast<uint8_t>(lit[lex.pos])) return false;
      if (lit[++lex.pos] == '\0') value_done();
      return true;
    }
  }
  return false;
}

bool JsonMachine::feed(std::string_view bytes) {
  if (!accepts(bytes)) return false;
  OwnStack st{stack_};
  for (char ch : bytes) step(lex_, st, static_cast<uint8_t>(ch));
  return true;
}

bool JsonMachine::accepts(std::string_view bytes) const {
  Lex lex = lex_;
  std::string local;  // pushes of this trial; short tokens stay in the small-string buffer
  OverlayStack st{stack_, stack_.size(), local};
  for (char ch : bytes)
    if (!step(lex, st, static_cast<uint8_t>(ch))) return false;
  return true;
}

bool JsonMachine::complete() const {
  if (!stack_.empty()) return false;
  return lex_.mode == kDone || (!opt_.top_level_object && number_accepting(lex_.mode));
}

bool JsonMachine::can_continue() const { return lex_.mode != kDone; }

std::string JsonMachine::cache_key(int max_pops, int max_pushes) const {
  std::string key(reinterpret_cast<const char*>(&lex_), sizeof(Lex));
  const int depth = static_cast<int>(stack_.size());
  key.push_back(static_cast<char>(opt_.top_level_object));
  key.push_back(static_cast<char>(opt_.max_whitespace_run));
  key.push_back(static_cast<char>(opt_.max_number_length));
  key.push_back(static_cast<char>(std::min(depth, max_pops + 1)));
  key.push_back(static_cast<char>(std::min(opt_.max_depth - depth, max_pushes + 1)));
  const int n = std::min(depth, max_pops);
  key.append(stack_, stack_.size() - n, n);
  return key;
}

}  // namespace whale::sampling
