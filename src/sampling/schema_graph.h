// The compiled form of a strict tool schema: a graph of value nodes that SchemaMachine walks.
// Built by compile_schema (schema_compiler.cpp); immutable afterwards and shared between
// requests. $ref recursion is a cycle in the graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sampling/schema_number.h"
#include "sampling/schema_regex.h"

namespace whale::sampling {

struct SchemaNode {
  enum class Kind : uint8_t {
    kObject,      // closed: exactly `keys`, in order, all required
    kOpenObject,  // any keys (string node `children[1]`), values `children[0]`
    kArray,       // items `children[0]`
    kString,      // contents match dfas[dfa]
    kNumber,
    kLiterals,    // one of `literals` (canonical JSON texts, sorted)
    kAnyOf,       // one of `children` (decided while reading; not a frame of its own)
  };
  Kind kind = Kind::kAnyOf;
  std::string path;               // schema path, for messages
  std::vector<std::string> keys;  // kObject: each key as a JSON string literal ("\"city\"")
  std::vector<int32_t> children;
  int32_t dfa = -1;
  NumberSpec number;
  std::vector<std::string> literals;
  // Fewest stack frames a value of this node needs (1 for a leaf); kUnbounded when no finite
  // value exists (recursion without a way out).
  int min_depth = 0;
};

struct CompiledSchema {
  static constexpr int kUnbounded = 1 << 20;
  std::vector<SchemaNode> nodes;
  std::vector<CodepointDfa> dfas;
  int32_t root = 0;
  int max_depth = 64;          // frames (nesting) cap
  int max_whitespace_run = 32; // consecutive structural whitespace bytes
  int max_threads = 64;        // parallel parses kept for anyOf
  uint64_t id_hi = 0, id_lo = 0;  // fingerprint of the schema and caps (cache keys)
};

}  // namespace whale::sampling
