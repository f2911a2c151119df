// Strict tool schemas (api.md §7.3) as a byte-level automaton: SchemaMachine accepts exactly the
// JSON texts valid against a compiled schema, in the canonical shape described below, and (like
// JsonMachine) every state reachable by accepted bytes can still be completed — so a decoding
// constraint built on it always yields arguments that validate.
//
// Supported schema subset (anything else is a whale::Error naming the schema path):
//   type object   `properties` with every property required and additionalProperties false.
//                 Keys are written in the order the schema object lists them (for a
//                 nlohmann::ordered_json schema the order as written; a nlohmann::json schema
//                 iterates keys sorted), each exactly once. An object schema without properties
//                 is "{}" unless additionalProperties is absent/true (then any object).
//   type string   any string; `pattern` (schema_regex.h); `format` email, hostname, ipv4, ipv6,
//                 uuid (built-in patterns). Not both pattern and format.
//   number/integer  minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers; the draft-4
//                 boolean forms too), multipleOf. See schema_number.h for the number shape.
//   boolean, null, enum, const  canonical serialisations (nlohmann dump) of the listed values;
//                 with `type` only the values of that type.
//   array         `items` (absent: any value).
//   anyOf / oneOf alternatives run in parallel (oneOf is read as anyOf: exclusivity is not
//                 enforced); `type` as a list is an anyOf of the types.
//   $ref          "#", "#/$defs/...", "#/definitions/..." (any JSON pointer into the root),
//                 recursion allowed; siblings of $ref are ignored.
//   {} / true     any JSON value (numbers in the shape above).
//   Annotations (description, title, default, examples, $schema, ...) are ignored.
// Rejected: minLength/maxLength/minItems/maxItems/uniqueItems/min-/maxProperties/
// patternProperties/prefixItems/not/if/then/else/allOf with more than one schema, a `false`
// schema, empty enums, ranges no 15-digit number meets, patterns nothing spellable matches,
// recursion with no finite document, $ref cycles that consume nothing.
//
// Canonical text: whitespace only between tokens (before/after values, around ':' and ','),
// at most max_whitespace_run bytes in a row; strings in raw UTF-8 with the short escapes
// \" \\ \/ \b \f \n \r \t only (no \u escapes, so U+0000-U+0007, U+000B, U+000E-U+001F cannot
// appear in strings); nesting at most max_depth frames (a frame per object, array and scalar
// being read; a value whose shortest completion would pass the cap is refused).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/byte_machine.h"
#include "sampling/schema_graph.h"

namespace whale::sampling {

struct SchemaOptions {
  int max_depth = 64;           // 2..255
  int max_whitespace_run = 32;  // 0..255
  int max_threads = 64;         // parallel anyOf parses kept (extra ones are dropped: fewer
                                // choices, never a dead end)
};

// Compiles a schema; `path` prefixes the schema paths in error messages
// (e.g. "tools[0].function.parameters").
std::shared_ptr<const CompiledSchema> compile_schema(const nlohmann::ordered_json& schema,
                                                     const std::string& path = "schema",
                                                     SchemaOptions options = {});
std::shared_ptr<const CompiledSchema> compile_schema(const nlohmann::json& schema,
                                                     const std::string& path = "schema",
                                                     SchemaOptions options = {});

class SchemaMachine final : public ByteMachine {
 public:
  explicit SchemaMachine(std::shared_ptr<const CompiledSchema> schema);

  bool feed(std::string_view bytes) override;
  bool accepts(std::string_view bytes) const override;
  bool complete() const override;
  bool can_continue() const override;
  // The whole state (all parallel parses) plus the schema's fingerprint; starts with 0xFF.
  std::string cache_key(int max_pops, int max_pushes) const override;
  std::unique_ptr<ByteMachine> clone() const override { return std::make_unique<SchemaMachine>(*this); }

  // One stack frame of a parse.
  struct Frame {
    int32_t node = 0;
    uint8_t phase = 0;
    uint8_t left = 0;     // UTF-8 continuation bytes still expected
    uint16_t pos = 0;     // key / literal bytes matched
    int32_t index = 0;    // object: property; string: DFA state; literal: first candidate
    uint32_t acc = 0;     // UTF-8 bits so far
    std::string text;     // number: its bytes
  };
  // One parse: a stack of frames (empty before and after the root value).
  struct Thread {
    std::vector<Frame> frames;
    bool done = false;  // the root value is complete
    uint8_t ws_run = 0;
  };

 private:
  void step(const Thread& t, uint8_t c, std::vector<Thread>& out) const;
  void start_value(const Thread& t, int32_t node, uint8_t c, std::vector<Thread>& out, int guard) const;
  void child_done(Thread& t) const;
  bool structural_ws(Thread& t, uint8_t c, bool& ok) const;
  bool fits(const Thread& t, int32_t node) const;
  bool run(std::vector<Thread>& threads, std::string_view bytes) const;
  bool thread_complete(const Thread& t) const;

  std::shared_ptr<const CompiledSchema> s_;
  std::vector<Thread> threads_;
};

}  // namespace whale::sampling
