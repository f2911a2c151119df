// The interface the token-level constraint machinery (JsonVocab's mask cache, JsonConstraint)
// needs from a byte-level automaton: JsonMachine (any JSON / any object) and SchemaMachine (JSON
// valid against a strict tool schema) implement it.
//
// Contract for implementations: accepts() never changes the state and agrees with feed(); the
// accepted languages are prefix-closed (if "ab" is accepted so is "a"), and every state reachable
// by accepted bytes can still be completed (no dead ends). cache_key() identifies the answer of
// accepts() for every byte string that closes at most `max_pops` and opens at most `max_pushes`
// brackets; keys of different machine kinds never collide (JsonMachine keys start with a mode
// byte below 32, SchemaMachine keys with 0xFF).
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace whale::sampling {

class ByteMachine {
 public:
  virtual ~ByteMachine() = default;
  // Feeds bytes; on rejection returns false and leaves the machine unchanged.
  virtual bool feed(std::string_view bytes) = 0;
  // Whether feed(bytes) would succeed, without changing anything.
  virtual bool accepts(std::string_view bytes) const = 0;
  // The bytes so far form a complete document.
  virtual bool complete() const = 0;
  // Something other than trailing whitespace may still follow.
  virtual bool can_continue() const = 0;
  virtual std::string cache_key(int max_pops, int max_pushes) const = 0;
  virtual std::unique_ptr<ByteMachine> clone() const = 0;
};

}  // namespace whale::sampling
