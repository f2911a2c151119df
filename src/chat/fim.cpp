// FIM prompt construction (fim.h).
#include "chat/fim.h"

namespace whale::chat {

FimMarkers deepseek_fim_markers() { return {"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"}; }
FimMarkers qwen_fim_markers() { return {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}; }

std::optional<FimMarkers> detect_fim_markers(const std::function<bool(const std::string&)>& has_token) {
  for (const FimMarkers& m : {deepseek_fim_markers(), qwen_fim_markers()})
    if (has_token(m.begin) && has_token(m.hole) && has_token(m.end)) return m;
  return std::nullopt;
}

std::string build_fim_prompt(const std::string& prefix, const std::optional<std::string>& suffix,
                             const FimMarkers& markers) {
  if (!suffix) return prefix;
  return markers.begin + prefix + markers.hole + *suffix + markers.end;
}

}  // namespace whale::chat
