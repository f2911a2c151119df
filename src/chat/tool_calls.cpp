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
        if (p == std::string::npos) return;  // keep buffering (finish() gives it back)
        std::string body = pending_.substr(0, p);
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
