// Fill-in-the-middle prompts (tokenizer-and-chat.md §6.4, api.md §6): prefix-suffix-middle
// order, begin marker + prefix + hole marker + suffix + end marker. The model then writes the
// middle. The returned string holds marker *texts*: tokenize it with added tokens recognised
// (spec §2.1) and with BOS added per the model's policy; BOS is not part of the string.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace whale::chat {

struct FimMarkers {
  std::string begin;  // before the prefix
  std::string hole;   // between prefix and suffix
  std::string end;    // after the suffix; generation starts here
};

// DeepSeek V2/V3/Coder: <｜fim▁begin｜> / <｜fim▁hole｜> / <｜fim▁end｜>.
FimMarkers deepseek_fim_markers();
// Qwen2.5 family (R1-Distill-Qwen vocab): <|fim_prefix|> / <|fim_suffix|> / <|fim_middle|>.
FimMarkers qwen_fim_markers();

// Picks the markers the vocabulary has, given a predicate "this added-token text exists":
// DeepSeek's first, then Qwen's; nullopt when the model has no FIM tokens.
std::optional<FimMarkers> detect_fim_markers(const std::function<bool(const std::string&)>& has_token);

// The FIM prompt. Without a suffix (nullopt) the prompt is `prefix` alone: plain completion.
std::string build_fim_prompt(const std::string& prefix, const std::optional<std::string>& suffix,
                             const FimMarkers& markers = deepseek_fim_markers());

}  // namespace whale::chat
