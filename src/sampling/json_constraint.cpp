#include "sampling/json_constraint.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include "util/error.h"

namespace whale::sampling {

namespace {
constexpr size_t kMaxCachedStates = 1024;  // x vocab/8 bytes each (16 KB for 128k tokens)
}

JsonVocab::JsonVocab(std::vector<std::string> token_bytes, std::vector<int32_t> eog_ids)
    : bytes_(std::move(token_bytes)), is_eog_(bytes_.size(), 0), byte_token_(256, 0),
      by_first_byte_(256) {
  for (int32_t id : eog_ids) {
    if (id < 0 || id >= vocab_size())
      fail("JSON constraint: end-of-generation id ", id, " outside the vocabulary (size ",
           vocab_size(), ")");
    is_eog_[id] = 1;
  }
  for (int32_t id = 0; id < vocab_size(); ++id) {
    if (is_eog_[id] || bytes_[id].empty()) continue;
    by_first_byte_[static_cast<uint8_t>(bytes_[id][0])].push_back(id);
    if (bytes_[id].size() == 1) byte_token_[static_cast<uint8_t>(bytes_[id][0])] = 1;
  }
  for (const auto& b : bytes_) {
    max_pops_ = std::max<int>(max_pops_, static_cast<int>(std::count_if(
                                             b.begin(), b.end(),
                                             [](char c) { return c == '}' || c == ']'; })));
    max_pushes_ = std::max<int>(max_pushes_, static_cast<int>(std::count_if(
                                                 b.begin(), b.end(),
                                                 [](char c) { return c == '{' || c == '['; })));
  }
}

bool JsonVocab::spellable(const std::string& text) const {
  // Byte-level vocabularies have every single byte, which settles it at once; otherwise a
  // reachability pass over the positions of `text`.
  if (std::all_of(text.begin(), text.end(),
                  [&](char c) { return byte_token_[static_cast<uint8_t>(c)] != 0; }))
    return true;
  std::vector<uint8_t> reach(text.size() + 1, 0);
  reach[0] = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!reach[i]) continue;
    for (int32_t id : by_first_byte_[static_cast<uint8_t>(text[i])]) {
      const std::string& b = bytes_[id];
      if (b.size() <= text.size() - i && text.compare(i, b.size(), b) == 0) reach[i + b.size()] = 1;
    }
  }
  return reach[text.size()] != 0;
}

std::shared_ptr<const JsonVocab::Bits> JsonVocab::allowed(const ByteMachine& machine) {
  const std::string key = machine.cache_key(max_pops_, max_pushes_);
  {
    std::lock_guard lk(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  // Computed outside the lock: two threads may both compute a state; both get the same answer.
  auto bits = std::make_shared<Bits>((bytes_.size() + 63) / 64, 0);
  for (int b = 0; b < 256; ++b) {
    const auto& ids = by_first_byte_[b];
    if (ids.empty()) continue;
    const char first = static_cast<char>(b);
    if (!machine.accepts(std::string_view(&first, 1))) continue;
    for (int32_t id : ids)
      if (bytes_[id].size() == 1 || machine.accepts(bytes_[id]))
        (*bits)[id / 64] |= uint64_t{1} << (id % 64);
  }
  std::lock_guard lk(mu_);
  if (cache_.size() >= kMaxCachedStates) cache_.clear();  // rare: start over rather than track age
  cache_.emplace(key, bits);
  return bits;
}

JsonConstraint::JsonConstraint(std::shared_ptr<JsonVocab> vocab, JsonMachine::Options options)
    : JsonConstraint(std::move(vocab), std::make_unique<JsonMachine>(options)) {}

JsonConstraint::JsonConstraint(std::shared_ptr<JsonVocab> vocab, std::unique_ptr<ByteMachine> machine)
    : vocab_(std::move(vocab)), machine_(std::move(machine)) {
  if (!vocab_) fail("JSON constraint: no vocabulary");
  if (!machine_) fail("JSON constraint: no byte machine");
}

bool JsonConstraint::allows(int32_t token) {
  if (token < 0 || token >= vocab_->vocab_size()) return false;
  if (vocab_->is_eog(token)) return machine_->complete();
  if (!machine_->can_continue()) return false;  // complete: only the end may follow
  const std::string& b = vocab_->bytes(token);
  return !b.empty() && machine_->accepts(b);
}

void JsonConstraint::mask(std::span<float> logits) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const int32_t n = std::min<int32_t>(static_cast<int32_t>(logits.size()), vocab_->vocab_size());
  const bool end_ok = machine_->complete();
  if (!machine_->can_continue()) {
    for (int32_t id = 0; id < n; ++id)
      if (!vocab_->is_eog(id)) logits[id] = ninf;
  } else {
    const auto bits = vocab_->allowed(*machine_);
    for (int32_t id = 0; id < n; ++id) {
      if (vocab_->is_eog(id)) {
        if (!end_ok) logits[id] = ninf;
      } else if (!(((*bits)[id / 64] >> (id % 64)) & 1)) {
        logits[id] = ninf;
      }
    }
  }
  for (size_t id = static_cast<size_t>(n); id < logits.size(); ++id) logits[id] = ninf;
}

void JsonConstraint::accept(int32_t token) {
  if (!allows(token)) fail("JSON constraint: token ", token, " is not allowed after \"", text_, "\"");
  if (vocab_->is_eog(token)) return;
  const std::string& b = vocab_->bytes(token);
  machine_->feed(b);
  text_ += b;
}

}  // namespace whale::sampling
