// Streaming tool-call extraction (tool_calls.h). Calls are buffered until their end marker and
// then validated, so a malformed call can still be given back as text, and the result never
// depends on how the text was chunked.
#include "chat/tool_calls.h"

#include "chat/stream_text.h"

namespace whale::chat {
namespace {

const std::string kCallsBegin = "<｜tool▁calls▁begin｜>";
const std::string kCallsEnd = "<｜tool▁calls▁end｜>";
const std::string kCallBegin = "<｜tool▁call▁begin｜>";
const std::string kCallEnd = "<｜tool▁call▁end｜>";
const std::string kSep = "<｜tool▁sep｜>";
const std::string kXmlBegin = "<tool_call>";
const std::string kXmlEnd = "</tool_call>";

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 256) return false;
  for (unsigned char c : n)
    if (c <= ' ' || c == '<' || c == '>' || c == '"' || c == '`') return false;
  return true;
}

}  // namespace

nlohmann::ordered_json ParsedToolCall::to_json() const {
  nlohmann::ordered_json j;
  j["id"] = id;
  j["type"] = "function";
  j["function"] = {{"name", name}, {"arguments", arguments}};
  return j;
}

ToolCallParser::ToolCallParser(bool accept_xml, std::function<std::string(int)> make_id)
    : accept_xml_(accept_xml), make_id_(std::move(make_id)) {
  if (!make_id_) make_id_ = [](int i) { return "call_" + std::to_string(i); };
}

ToolCallDelta ToolCallParser::feed(const std::string& text) {
  pending_ += text;
  ToolCallDelta out;
  step(out, false);
  return out;
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  step(out, true);
  if (streaming_) {
    // Announced calls cannot be taken back: complete it with what arrived.
    end_streamed_call(pending_, out);
    raw_.clear();
    pending_.clear();
  }
  // An unfinished call is given back verbatim.
  out.content += raw_ + pending_;
  raw_.clear();
  pending_.clear();
  mode_ = Mode::Text;
  return out;
}

// Body of a call (between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>), in either form:
//   TYPE<｜tool▁sep｜>NAME\n```json\nARGS\n```     (V3 / R1)
//   NAME<｜tool▁sep｜>ARGS                         (V3.1+)
bool ToolCallParser::finish_call(const std::string& body, ToolCallDelta& out) {
  std::size_t sep = body.find(kSep);
  if (sep == std::string::npos || body.find(kCallBegin) != std::string::npos) return false;
  std::string left = trim_ascii(body.substr(0, sep));
  std::string right = body.substr(sep + kSep.size());
  std::string name, args;
  std::size_t nl = right.find('\n');
  std::string after_nl = nl == std::string::npos ? std::string() : trim_ascii(right.substr(nl + 1));
  if (nl != std::string::npos && after_nl.compare(0, 3, "```") == 0) {
    if (!valid_name(left)) return false;  // the call type ("function")
    name = trim_ascii(right.substr(0, nl));
    std::string fenced = after_nl;
    std::size_t open_end = fenced.find('\n');
    if (open_end == std::string::npos) return false;
    fenced.erase(0, open_end + 1);  // ```json line
    fenced = trim_ascii(fenced);
    if (fenced.size() < 3 || fenced.compare(fenced.size() - 3, 3, "```") != 0) return false;
    args = trim_ascii(fenced.substr(0, fenced.size() - 3));
  } else {
    name = left;
    args = trim_ascii(right);
  }
  if (!valid_name(name)) return false;
  if (args.find("<｜") != std::string::npos) return false;
  if (args.empty()) args = "{}";
  ParsedToolCall c;
  c.index = next_index_++;
  c.id = make_id_(c.index);
  c.name = std::move(name);
  c.arguments = std::move(args);
  announce(c, out);
  out.calls.push_back(std::move(c));
  return true;
}

// <tool_call>{"name": ..., "arguments": ...}</tool_call>
bool ToolCallParser::finish_xml_call(const std::string& body, ToolCallDelta& out) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(trim_ascii(body), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || !valid_name(name->get<std::string>())) return false;
  std::string args = "{}";
  auto a = j.find("arguments");
  if (a != j.end()) {
    if (a->is_string()) args = a->get<std::string>();
    else if (a->is_object()) args = a->dump();
    else return false;
  }
  ParsedToolCall c;
  c.index = next_index_++;
  c.id = make_id_(c.index);
  c.name = name->get<std::string>();
  c.arguments = std::move(args);
  announce(c, out);
  out.calls.push_back(std::move(c));
  return true;
}

void ToolCallParser::step(ToolCallDelta& out, bool final) {
  while (true) {
    switch (mode_) {
      case Mode::Text: {
        std::vector<std::string> markers = {kCallsBegin, kCallBegin};
        if (accept_xml_) markers.push_back(kXmlBegin);
        std::size_t best = std::string::npos;
        const std::string* hit = nullptr;
        for (const auto& m : markers) {
          std::size_t p = pending_.find(m);
          if (p < best) {
            best = p;
            hit = &m;
          }
        }
        if (!hit) {
          std::size_t hold = final ? 0 : partial_marker_suffix(pending_, markers);
          out.content.append(pending_, 0, pending_.size() - hold);
          pending_.erase(0, pending_.size() - hold);
          return;
        }
        out.content.append(pending_, 0, best);
        pending_.erase(0, best + hit->size());
        raw_ = *hit;
        mode_ = *hit == kCallsBegin ? Mode::Block : *hit == kCallBegin ? Mode::Call : Mode::XmlCall;
        continue;
      }
      case Mode::Block: {
        // Between calls: whitespace separators, the next call, or the end of the block.
        std::size_t b = 0;
        while (b < pending_.size() && is_ascii_space(pending_[b])) ++b;
        std::string t = pending_.substr(b);
        if (t.compare(0, kCallBegin.size(), kCallBegin) == 0) {
          raw_ += pending_.substr(0, b + kCallBegin.size());
          pending_ = t.substr(kCallBegin.size());
          mode_ = Mode::Call;
          continue;
        }
        if (t.compare(0, kCallsEnd.size(), kCallsEnd) == 0) {
          pending_ = t.substr(kCallsEnd.size());
          raw_.clear();
          mode_ = Mode::Text;
          continue;
        }
        bool may_complete = t.empty() || kCallBegin.compare(0, t.size(), t) == 0 || kCallsEnd.compare(0, t.size(), t) == 0;
        if (may_complete && !final) return;
        // Anything else ends the block and is text again. If no call of this block was emitted
        // yet, its opener is given back as text too.
        out.content += raw_;
        raw_.clear();
        mode_ = Mode::Text;
        if (final && t.empty()) {
          pending_.clear();  // trailing separator after the last call
          return;
        }
        continue;
      }
      case Mode::Call:
      case Mode::XmlCall: {
        const std::string& end = mode_ == Mode::Call ? kCallEnd : kXmlEnd;
        std::size_t p = pending_.find(end);
        if (p == std::string::npos) {
          if (incremental_ && mode_ == Mode::Call) stream_call(out);
          return;  // keep buffering (finish() gives it back, unless announced)
        }
        std::string body = pending_.substr(0, p);
        if (streaming_) {
          end_streamed_call(body, out);
          pending_.erase(0, p + end.size());
          raw_.clear();
          mode_ = Mode::Block;
          continue;
        }
        std::string verbatim = raw_ + pending_.substr(0, p + end.size());
        pending_.erase(0, p + end.size());
        bool ok = mode_ == Mode::Call ? finish_call(body, out) : finish_xml_call(body, out);
        if (!ok) {
          out.content += verbatim;
          raw_.clear();
          mode_ = Mode::Text;
          continue;
        }
        raw_.clear();
        mode_ = mode_ == Mode::Call ? Mode::Block : Mode::Text;
        continue;
      }
    }
  }
}

// Whole-mode calls in incremental mode: a header and all arguments at once.
void ToolCallParser::announce(const ParsedToolCall& c, ToolCallDelta& out) {
  if (!incremental_) return;
  out.fragments.push_back({c.index, c.id, c.name, "", true});
  out.fragments.push_back({c.index, "", "", c.arguments, false});
}

// Inside a call whose end marker has not arrived: announce it once the name is certain, then
// send the arguments that can no longer turn out to be trailing whitespace, fence or marker.
void ToolCallParser::stream_call(ToolCallDelta& out) {
  if (!streaming_) {
    const std::size_t sep = pending_.find(kSep);
    if (sep == std::string::npos || pending_.find(kCallBegin) != std::string::npos) return;
    const std::string left = trim_ascii(pending_.substr(0, sep));
    const std::size_t right = sep + kSep.size();
    std::size_t rs = right;
    while (rs < pending_.size() && is_ascii_space(pending_[rs])) ++rs;
    if (rs >= pending_.size()) return;
    std::string name;
    if (pending_[rs] == '{' || pending_[rs] == '[') {
      // V3.1: NAME<sep>ARGS (a V3 name never starts with a bracket: names are identifiers).
      name = left;
      fenced_ = false;
      args_offset_ = rs;
    } else {
      // V3/R1: TYPE<sep>NAME\n```json\nARGS — decided once the fence line is complete.
      const std::size_t nl = pending_.find('\n', right);
      if (nl == std::string::npos) return;
      std::size_t f = nl + 1;
      while (f < pending_.size() && is_ascii_space(pending_[f])) ++f;
      if (pending_.size() - f < 3) return;
      if (pending_.compare(f, 3, "```") != 0) return;  // not V3: left to whole mode
      const std::size_t fence_end = pending_.find('\n', f);
      if (fence_end == std::string::npos) return;
      if (!valid_name(left)) return;
      name = trim_ascii(pending_.substr(right, nl - right));
      fenced_ = true;
      args_offset_ = fence_end + 1;
    }
    if (!valid_name(name)) return;
    streaming_ = true;
    emitted_.clear();
    current_ = ParsedToolCall{};
    current_.index = next_index_++;
    current_.id = make_id_(current_.index);
    current_.name = name;
    out.fragments.push_back({current_.index, current_.id, current_.name, "", true});
  }
  // Hold back a possible start of the end marker, then trailing whitespace (and fence ticks).
  std::string region = pending_.substr(std::min(args_offset_, pending_.size()));
  std::size_t cut = region.size() - partial_marker_suffix(region, {kCallEnd});
  while (cut > 0 && (is_ascii_space(region[cut - 1]) || (fenced_ && region[cut - 1] == '`'))) --cut;
  std::size_t lead = 0;
  while (lead < cut && is_ascii_space(region[lead])) ++lead;
  if (cut <= lead) return;
  const std::string ready = region.substr(lead, cut - lead);
  if (ready.size() > emitted_.size() && ready.compare(0, emitted_.size(), emitted_) == 0) {
    out.fragments.push_back({current_.index, "", "", ready.substr(emitted_.size()), false});
    emitted_ = ready;
  }
}

// The streamed call's end (end marker, or end of text): send the rest of its arguments.
void ToolCallParser::end_streamed_call(const std::string& body, ToolCallDelta& out) {
  std::string args = trim_ascii(body.substr(std::min(args_offset_, body.size())));
  if (fenced_ && args.size() >= 3 && args.compare(args.size() - 3, 3, "```") == 0)
    args = trim_ascii(args.substr(0, args.size() - 3));
  if (args.empty() && emitted_.empty()) args = "{}";
  if (args.size() > emitted_.size() && args.compare(0, emitted_.size(), emitted_) == 0) {
    out.fragments.push_back({current_.index, "", "", args.substr(emitted_.size()), false});
    emitted_ = args;
  }
  current_.arguments = emitted_;
  out.calls.push_back(current_);
  streaming_ = false;
  emitted_.clear();
}

ParsedOutput parse_tool_calls(const std::string& text, bool accept_xml, std::function<std::string(int)> make_id) {
  ToolCallParser p(accept_xml, std::move(make_id));
  ParsedOutput out;
  for (ToolCallDelta d : {p.feed(text), p.finish()}) {
    out.content += d.content;
    for (auto& c : d.calls) out.calls.push_back(std::move(c));
  }
  return out;
}

}  // namespace whale::chat
