// A restriction on which tokens may come next (JSON mode, forced tool calls). The sampler asks a
// constraint about candidates; the engine feeds it every token it emits.
//
// Contract: allows() and mask() agree (mask sets exactly the disallowed ids to -inf). A
// constraint never reaches a state where nothing is allowed: until complete() some non-end token
// is allowed, and once complete() the end-of-generation ids are. Not thread-safe: one request's
// constraint is used by one thread at a time (the engine's scheduler).
#pragma once
#include <cstdint>
#include <span>

namespace whale::sampling {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Whether `token` may come next. Cheap: the sampler calls it on the token it drew and falls
  // back to mask() only when the answer is no.
  virtual bool allows(int32_t token) = 0;
  // Sets logits[id] = -inf for every id that may not come next (logits has vocab_size entries).
  virtual void mask(std::span<float> logits) = 0;
  // Advances past an emitted token (one that allows() accepted).
  virtual void accept(int32_t token) = 0;
  // The output so far is a whole (an end-of-generation token is allowed now).
  virtual bool complete() const = 0;
  // Whether anything but the end may still follow; the engine stops as soon as the output is
  // complete and cannot continue, without spending a step on the end token.
  virtual bool can_continue() const { return !complete(); }
};

}  // namespace whale::sampling
