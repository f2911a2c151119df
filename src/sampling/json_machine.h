// A pushdown automaton over bytes that accepts exactly the RFC 8259 JSON texts (UTF-8 checked,
// \u escapes with paired surrogates, as strict parsers such as nlohmann::json::accept require),
// optionally only those whose top-level value is an object (response_format json_object).
//
// Every state it can reach by accepted bytes can still be completed to a valid text (no dead
// ends), which is what lets a decoding constraint promise valid JSON. To keep a model from
// looping without progress, runs of whitespace, numbers and nesting depth are capped; the caps
// only remove choices, never every choice. Exponents have at most 2 digits, so with the
// number-length cap every number is finite as a double (parsers such as nlohmann::json reject
// overflowing numbers like 8e8905 even though RFC 8259's grammar allows them).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sampling/byte_machine.h"

namespace whale::sampling {

class JsonMachine final : public ByteMachine {
 public:
  struct Options {
    bool top_level_object = true;  // only `{...}` at the top (else any JSON value)
    int max_whitespace_run = 64;   // consecutive whitespace bytes outside strings (<= 255)
    int max_depth = 64;            // nested objects/arrays (<= 255)
    int max_number_length = 64;    // bytes of one number (<= 255)
  };

  explicit JsonMachine(Options options);
  JsonMachine() : JsonMachine(Options{}) {}

  // Feeds bytes; on rejection returns false and leaves the machine unchanged.
  bool feed(std::string_view bytes) override;
  // Whether feed(bytes) would succeed, without changing anything.
  bool accepts(std::string_view bytes) const override;

  // The bytes so far form a complete JSON text (trailing whitespace included).
  bool complete() const override;
  // Something other than whitespace may still follow (false once an object/array/string/
  // literal at the top level has closed; true after a top-level number, which digits extend).
  bool can_continue() const override;
  int depth() const { return static_cast<int>(stack_.size()); }

  // A key that identifies the machine's answer for every byte string that closes at most
  // `max_pops` and opens at most `max_pushes` containers (for caching token masks).
  std::string cache_key(int max_pops, int max_pushes) const override;
  std::unique_ptr<ByteMachine> clone() const override { return std::make_unique<JsonMachine>(*this); }

  // Lexical state apart from the container stack; all bytes so it can be a cache key.
  struct Lex {
    uint8_t mode = 0;
    uint8_t pos = 0;        // literal: bytes matched; \u escape: hex digits read
    uint8_t literal = 0;    // which of true / false / null
    uint8_t hex_first = 0;  // first hex digit of the current \u escape (for surrogates)
    uint8_t want_low = 0;   // a high surrogate was read: the next escape must be a low one
    uint8_t in_key = 0;     // the open string is an object key
    uint8_t utf8_left = 0;  // continuation bytes still expected
    uint8_t utf8_lo = 0;    // range allowed for the next continuation byte
    uint8_t utf8_hi = 0;
    uint8_t number_len = 0;
    uint8_t exp_digits = 0;
    uint8_t ws_run = 0;
  };

 private:
  template <class Stack>
  bool step(Lex& lex, Stack& stack, uint8_t c) const;
  template <class Stack>
  bool start_value(Lex& lex, Stack& stack, uint8_t c) const;
  template <class Stack>
  bool after_value_byte(Lex& lex, Stack& stack, uint8_t c) const;

  Options opt_;
  Lex lex_;
  std::string stack_;  // 'o' object, 'a' array; back() is the innermost
};

}  // namespace whale::sampling
