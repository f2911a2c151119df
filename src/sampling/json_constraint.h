// JSON mode: constrains decoding so the output is a valid JSON text (RFC 8259; by default a
// top-level object, as response_format json_object asks), or, given another ByteMachine (a
// SchemaMachine for a strict tool schema), a text that machine accepts.
//
// JsonVocab holds what the constraint knows about the vocabulary (each token's bytes, which ids
// end generation) and a cache of allowed-token sets per automaton state; build it once per
// tokenizer and share it between requests (thread-safe). JsonConstraint is one request's state.
//
// A token is allowed when the automaton accepts all of its bytes, so tokens may span structure
// ("\"}," closes a string and an object and starts the next member). Tokens without bytes
// (special/control/unused) are never allowed as text. End-of-generation ids are allowed exactly
// when the text is complete; once a complete text cannot be extended (the top-level object has
// closed) nothing else is, and the engine stops right there.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/constraint.h"
#include "sampling/byte_machine.h"
#include "sampling/json_machine.h"

namespace whale::tokenizer {
class Tokenizer;
}

namespace whale::sampling {

class JsonVocab {
 public:
  // token_bytes[id] = the bytes the token stands for ("" = never allowed as text).
  JsonVocab(std::vector<std::string> token_bytes, std::vector<int32_t> eog_ids);
  // From a tokenizer: special and control tokens count as having no bytes.
  static std::shared_ptr<JsonVocab> from_tokenizer(const tokenizer::Tokenizer& tokenizer);

  int32_t vocab_size() const { return static_cast<int32_t>(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  bool is_eog(int32_t id) const { return is_eog_[id] != 0; }
  // Whether `text` can be written as a sequence of the vocabulary's text (non-end) tokens.
  bool spellable(const std::string& text) const;

  // Bitset (bit id of word id/64) of the non-EOG tokens `machine` accepts; computed once per
  // distinct state (machine.cache_key) and cached.
  using Bits = std::vector<uint64_t>;
  std::shared_ptr<const Bits> allowed(const ByteMachine& machine);

 private:
  std::vector<std::string> bytes_;
  std::vector<uint8_t> is_eog_;
  std::vector<uint8_t> byte_token_;  // [b]: some text token is exactly the byte b
  int max_pops_ = 0;    // most closing brackets in one token: how deep a token can see
  int max_pushes_ = 0;  // most opening brackets in one token
  // Text token ids by first byte: a token is accepted only if its first byte is, so a cache
  // miss tests just the tokens whose first byte the machine takes.
  std::vector<std::vector<int32_t>> by_first_byte_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Bits>> cache_;  // guarded by mu_
};

class JsonConstraint final : public TokenConstraint {
 public:
  explicit JsonConstraint(std::shared_ptr<JsonVocab> vocab,
                          JsonMachine::Options options = JsonMachine::Options{});
  // Any other byte machine (e.g. a SchemaMachine), in its start state.
  JsonConstraint(std::shared_ptr<JsonVocab> vocab, std::unique_ptr<ByteMachine> machine);

  bool allows(int32_t token) override;
  void mask(std::span<float> logits) override;
  // Throws whale::Error for a token the constraint does not allow.
  void accept(int32_t token) override;
  bool complete() const override { return machine_->complete(); }
  bool can_continue() const override { return machine_->can_continue(); }

  const std::string& text() const { return text_; }  // the bytes accepted so far

 private:
  std::shared_ptr<JsonVocab> vocab_;
  std::unique_ptr<ByteMachine> machine_;
  std::string text_;
};

}  // namespace whale::sampling
