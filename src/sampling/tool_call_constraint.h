// Forced tool call with a choice of functions (tool_choice "required" with several tools): the
// output must start with one of the given heads, then be a JSON object (the call's arguments).
// A head is what the call syntax writes between the prompt's opening markers and the
// arguments, e.g. "get_weather\n```json\n" for DeepSeek-V3 or "get_weather<｜tool▁sep｜>" for
// V3.1, so the chosen name is always one of the tools. After the head the rules are exactly
// JsonConstraint's (top-level object) or, for a head given a compiled strict schema, the
// schema's (SchemaMachine: the arguments validate against the tool's parameters); once the
// arguments close, only the end may follow.
//
// Tokens never span the head and the arguments (a token that would finish the head and start
// the JSON is refused; the model spells the boundary with shorter tokens), which keeps the
// two phases independent. Heads must be prefix-free (no head a prefix of another; names end
// in a separator, so distinct names are) and spellable with the vocabulary's tokens: the
// constructor drops heads that are not and throws whale::Error when none is left.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sampling/constraint.h"
#include "sampling/json_constraint.h"
#include "sampling/schema_graph.h"

namespace whale::sampling {

class ToolCallConstraint final : public TokenConstraint {
 public:
  // schemas[i] (when given: one per head, nullptr = any JSON object) rules the arguments after
  // heads[i].
  ToolCallConstraint(std::shared_ptr<JsonVocab> vocab, std::vector<std::string> heads,
                     std::vector<std::shared_ptr<const CompiledSchema>> schemas = {});

  bool allows(int32_t token) override;
  void mask(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool complete() const override { return json_ && json_->complete(); }
  bool can_continue() const override { return !json_ || json_->can_continue(); }

  const std::vector<std::string>& heads() const { return heads_; }
  // The head chosen so far (bytes accepted before the arguments), and the arguments' text.
  const std::string& head_text() const { return head_; }
  std::string arguments_text() const { return json_ ? json_->text() : std::string(); }

 private:
  bool head_allows(const std::string& bytes) const;

  std::shared_ptr<JsonVocab> vocab_;
  std::vector<std::string> heads_;
  std::vector<std::shared_ptr<const CompiledSchema>> schemas_;  // parallel to heads_
  std::string head_;
  std::optional<JsonConstraint> json_;  // engaged once a whole head has been accepted
};

}  // namespace whale::sampling
