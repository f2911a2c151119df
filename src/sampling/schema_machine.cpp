#include "sampling/schema_machine.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "util/error.h"

namespace whale::sampling {

namespace {

using Kind = SchemaNode::Kind;

enum Phase : uint8_t {
  kObjKey,      // ws, then a key ('"') or, where allowed, '}' (open objects: pos 0 = first)
  kObjKeyText,  // closed: `pos` bytes of keys[index] matched; open: the key string is on top
  kObjColon,
  kObjValue,
  kObjAfter,    // after value `index`: ws, ',' or '}'
  kArrFirst,    // after '[': ws, ']' or a value
  kArrAfter,
  kArrNext,     // after ',': ws, then a value
  kStr,         // index = DFA state
  kStrEscape,
  kStrUtf8,     // `left` continuation bytes to come, `acc` the bits so far, pos = sequence length
  kNum,         // text = the number so far
  kLit,         // `pos` bytes of literals[index] matched
};

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The code point of a short escape (after '\'), or -1.
int32_t escape_cp(uint8_t c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return 0x08;
    case 'f': return 0x0C;
    case 'n': return 0x0A;
    case 'r': return 0x0D;
    case 't': return 0x09;
    default: return -1;
  }
}

// Code points a partial UTF-8 sequence can still become: [lo, hi], empty when lo > hi.
void utf8_range(uint32_t acc, int left, int length, uint32_t& lo, uint32_t& hi) {
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  lo = acc << (6 * left);
  hi = lo | ((1u << (6 * left)) - 1);
  lo = std::max(lo, kMin[length]);
  hi = std::min<uint32_t>(hi, 0x10FFFF);
}

void put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

void serialise(const SchemaMachine::Thread& t, std::string& out) {
  out.push_back(static_cast<char>(t.done));
  out.push_back(static_cast<char>(t.ws_run));
  put32(out, static_cast<uint32_t>(t.frames.size()));
  for (const auto& f : t.frames) {
    put32(out, static_cast<uint32_t>(f.node));
    out.push_back(static_cast<char>(f.phase));
    out.push_back(static_cast<char>(f.left));
    put32(out, f.pos);
    put32(out, static_cast<uint32_t>(f.index));
    put32(out, f.acc);
    put32(out, static_cast<uint32_t>(f.text.size()));
    out += f.text;
  }
}

}  // namespace

SchemaMachine::SchemaMachine(std::shared_ptr<const CompiledSchema> schema) : s_(std::move(schema)) {
  if (!s_) fail("schema constraint: no compiled schema");
  threads_.emplace_back();
}

bool SchemaMachine::fits(const Thread& t, int32_t node) const {
  return static_cast<int>(t.frames.size()) + s_->nodes[node].min_depth <= s_->max_depth;
}

// Structural whitespace: returns true when `c` is whitespace (then `ok` says whether the run
// cap allows it); any other byte ends the run.
bool SchemaMachine::structural_ws(Thread& t, uint8_t c, bool& ok) const {
  if (!is_ws(c)) {
    t.ws_run = 0;
    return false;
  }
  ok = t.ws_run < s_->max_whitespace_run;
  if (ok) ++t.ws_run;
  return true;
}

void SchemaMachine::child_done(Thread& t) const {
  t.frames.pop_back();
  if (t.frames.empty()) {
    t.done = true;
    return;
  }
  Frame& p = t.frames.back();
  switch (p.phase) {
    case kObjKeyText: p.phase = kObjColon; break;
    case kObjValue: p.phase = kObjAfter; break;
    case kArrFirst:
    case kArrNext: p.phase = kArrAfter; break;
    default: break;
  }
}

void SchemaMachine::start_value(const Thread& t, int32_t id, uint8_t c, std::vector<Thread>& out,
                                int guard) const {
  const SchemaNode& n = s_->nodes[id];
  if (n.kind == Kind::kAnyOf) {
    if (guard > 256) return;  // the compiler rules out anyOf cycles; this is only a backstop
    for (int32_t alt : n.children) start_value(t, alt, c, out, guard + 1);
    return;
  }
  if (!fits(t, id)) return;
  Frame f;
  f.node = id;
  switch (n.kind) {
    case Kind::kObject:
    case Kind::kOpenObject:
      if (c != '{') return;
      f.phase = kObjKey;
      break;
    case Kind::kArray:
      if (c != '[') return;
      f.phase = kArrFirst;
      break;
    case Kind::kString:
      if (c != '"') return;
      f.phase = kStr;
      f.index = s_->dfas[n.dfa].start();
      break;
    case Kind::kNumber:
      if (c != '-' && (c < '0' || c > '9')) return;
      f.text.assign(1, static_cast<char>(c));
      if (!number_viable(n.number, f.text)) return;
      f.phase = kNum;
      break;
    case Kind::kLiterals: {
      const auto& lits = n.literals;
      size_t i = 0;
      while (i < lits.size() && static_cast<uint8_t>(lits[i][0]) != c) ++i;
      if (i == lits.size()) return;
      f.phase = kLit;
      f.index = static_cast<int32_t>(i);
      f.pos = 1;
      Thread x = t;
      x.frames.push_back(std::move(f));
      // A literal that nothing extends ends at once (only numbers can be prefixes of others).
      const bool more = std::any_of(lits.begin() + i, lits.end(), [&](const std::string& l) {
        return l.size() > 1 && static_cast<uint8_t>(l[0]) == c;
      });
      if (lits[i].size() == 1 && !more) child_done(x);
      out.push_back(std::move(x));
      return;
    }
    case Kind::kAnyOf:
      return;
  }
  Thread x = t;
  x.frames.push_back(std::move(f));
  out.push_back(std::move(x));
}

void SchemaMachine::step(const Thread& t, uint8_t c, std::vector<Thread>& out) const {
  const auto& nodes = s_->nodes;
  Thread n = t;
  bool ok = false;
  if (n.frames.empty()) {
    if (structural_ws(n, c, ok)) {
      if (ok) out.push_back(std::move(n));
    } else if (!n.done) {
      start_value(n, s_->root, c, out, 0);
    }
    return;
  }
  Frame& f = n.frames.back();
  const SchemaNode& node = nodes[f.node];
  switch (f.phase) {
    case kObjKey: {
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      if (node.kind == Kind::kObject) {
        if (f.index == static_cast<int32_t>(node.keys.size())) {
          if (c != '}') return;
          child_done(n);
        } else {
          if (c != '"') return;
          f.phase = kObjKeyText;
          f.pos = 1;
        }
        out.push_back(std::move(n));
        return;
      }
      if (c == '}' && f.pos == 0) {
        child_done(n);
        out.push_back(std::move(n));
        return;
      }
      // A key needs room for itself and for a value after it.
      if (c != '"' || !fits(n, node.children[0]) || !fits(n, node.children[1])) return;
      f.phase = kObjKeyText;
      Frame key;
      key.node = node.children[1];
      key.phase = kStr;
      key.index = s_->dfas[nodes[key.node].dfa].start();
      n.frames.push_back(std::move(key));
      out.push_back(std::move(n));
      return;
    }
    case kObjKeyText: {  // closed objects only (an open object's key is a string frame)
      const std::string& key = node.keys[f.index];
      if (static_cast<uint8_t>(key[f.pos]) != c) return;
      if (++f.pos == key.size()) f.phase = kObjColon;
      out.push_back(std::move(n));
      return;
    }
    case kObjColon:
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      if (c != ':') return;
      f.phase = kObjValue;
      out.push_back(std::move(n));
      return;
    case kObjValue:
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      start_value(n, node.kind == Kind::kObject ? node.children[f.index] : node.children[0], c,
                  out, 0);
      return;
    case kObjAfter: {
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      const bool closed = node.kind == Kind::kObject;
      const bool last = closed && f.index + 1 == static_cast<int32_t>(node.keys.size());
      if (c == '}' && (!closed || last)) {
        child_done(n);
        out.push_back(std::move(n));
      } else if (c == ',' && closed && !last) {
        ++f.index;
        f.phase = kObjKey;
        out.push_back(std::move(n));
      } else if (c == ',' && !closed && fits(n, node.children[0]) && fits(n, node.children[1])) {
        f.phase = kObjKey;
        f.pos = 1;  // not the first member: a key must follow
        out.push_back(std::move(n));
      }
      return;
    }
    case kArrFirst:
    case kArrNext:
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      if (c == ']' && f.phase == kArrFirst) {
        child_done(n);
        out.push_back(std::move(n));
        return;
      }
      start_value(n, node.children[0], c, out, 0);
      return;
    case kArrAfter:
      if (structural_ws(n, c, ok)) {
        if (ok) out.push_back(std::move(n));
        return;
      }
      if (c == ']') {
        child_done(n);
        out.push_back(std::move(n));
      } else if (c == ',' && fits(n, node.children[0])) {
        f.phase = kArrNext;
        out.push_back(std::move(n));
      }
      return;
    case kStr: {
      const CodepointDfa& dfa = s_->dfas[node.dfa];
      if (c == '"') {
        if (!dfa.accepting(f.index)) return;
        child_done(n);
      } else if (c == '\\') {
        bool any = false;
        for (uint8_t e : {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'})
          any = any || dfa.next(f.index, static_cast<uint32_t>(escape_cp(e))) >= 0;
        if (!any) return;
        f.phase = kStrEscape;
      } else if (c < 0x80) {
        if (c < 0x20) return;
        const int32_t next = dfa.next(f.index, c);
        if (next < 0) return;
        f.index = next;
      } else {
        int length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (length == 0) return;
        const uint32_t acc = c & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
        uint32_t lo, hi;
        utf8_range(acc, length - 1, length, lo, hi);
        if (lo > hi || !dfa.any_in(f.index, lo, hi)) return;
        f.phase = kStrUtf8;
        f.acc = acc;
        f.left = static_cast<uint8_t>(length - 1);
        f.pos = static_cast<uint16_t>(length);
      }
      out.push_back(std::move(n));
      return;
    }
    case kStrUtf8: {
      if (c < 0x80 || c > 0xBF) return;
      const CodepointDfa& dfa = s_->dfas[node.dfa];
      const uint32_t acc = (f.acc << 6) | (c & 0x3F);
      const int left = f.left - 1;
      uint32_t lo, hi;
      utf8_range(acc, left, f.pos, lo, hi);
      if (lo > hi) return;
      if (left == 0) {
        const int32_t next = dfa.next(f.index, acc);
        if (next < 0) return;
        f.index = next;
        f.phase = kStr;
        f.pos = 0;
        f.acc = 0;
      } else if (!dfa.any_in(f.index, lo, hi)) {
        return;
      }
      f.acc = left == 0 ? 0 : acc;
      f.left = static_cast<uint8_t>(left);
      out.push_back(std::move(n));
      return;
    }
    case kStrEscape: {
      const int32_t cp = escape_cp(c);
      if (cp < 0) return;
      const int32_t next = s_->dfas[node.dfa].next(f.index, static_cast<uint32_t>(cp));
      if (next < 0) return;
      f.index = next;
      f.phase = kStr;
      out.push_back(std::move(n));
      return;
    }
    case kNum: {
      if ((c >= '0' && c <= '9') || c == '.') {
        std::string longer = f.text;
        longer.push_back(static_cast<char>(c));
        if (number_viable(node.number, longer)) {
          Thread x = n;
          x.frames.back().text = std::move(longer);
          out.push_back(std::move(x));
        }
      }
      // The number may end here; the byte then belongs to what follows it.
      if (number_value_ok(node.number, f.text)) {
        child_done(n);
        step(n, c, out);
      }
      return;
    }
    case kLit: {
      const auto& lits = node.literals;
      const std::string& cur = lits[f.index];
      const bool whole = cur.size() == f.pos;
      size_t i = static_cast<size_t>(f.index);
      bool extended = false;
      for (; i < lits.size() && lits[i].compare(0, f.pos, cur, 0, f.pos) == 0; ++i) {
        if (lits[i].size() > f.pos && static_cast<uint8_t>(lits[i][f.pos]) == c) {
          extended = true;
          break;
        }
      }
      if (extended) {
        Thread x = n;
        Frame& g = x.frames.back();
        g.index = static_cast<int32_t>(i);
        ++g.pos;
        // Ends at once when no candidate is longer.
        const std::string& now = lits[i];
        bool longer = false;
        for (size_t j = i; j < lits.size() && lits[j].compare(0, g.pos, now, 0, g.pos) == 0; ++j)
          longer = longer || lits[j].size() > g.pos;
        if (now.size() == g.pos && !longer) child_done(x);
        out.push_back(std::move(x));
      }
      if (whole) {
        child_done(n);
        step(n, c, out);
      }
      return;
    }
    default:
      return;
  }
}

bool SchemaMachine::run(std::vector<Thread>& threads, std::string_view bytes) const {
  std::vector<Thread> next;
  std::set<std::string> seen;
  std::string key;
  for (char ch : bytes) {
    next.clear();
    for (const auto& t : threads) step(t, static_cast<uint8_t>(ch), next);
    if (next.empty()) return false;
    if (next.size() > 1) {
      // Drop duplicate parses, and keep at most max_threads (fewer choices, never a dead end).
      seen.clear();
      size_t kept = 0;
      for (auto& t : next) {
        if (static_cast<int>(kept) >= s_->max_threads) break;
        key.clear();
        serialise(t, key);
        if (seen.insert(key).second) next[kept++] = std::move(t);
      }
      next.resize(kept);
    }
    threads.swap(next);
  }
  return true;
}

bool SchemaMachine::feed(std::string_view bytes) {
  std::vector<Thread> trial = threads_;
  if (!run(trial, bytes)) return false;
  threads_ = std::move(trial);
  return true;
}

bool SchemaMachine::accepts(std::string_view bytes) const {
  std::vector<Thread> trial = threads_;
  return run(trial, bytes);
}

bool SchemaMachine::thread_complete(const Thread& t) const {
  if (t.done) return true;
  if (t.frames.size() != 1) return false;
  const Frame& f = t.frames.back();
  const SchemaNode& node = s_->nodes[f.node];
  if (f.phase == kNum) return number_value_ok(node.number, f.text);
  if (f.phase == kLit) return node.literals[f.index].size() == f.pos;
  return false;
}

bool SchemaMachine::complete() const {
  return std::any_of(threads_.begin(), threads_.end(), [&](const Thread& t) { return thread_complete(t); });
}

bool SchemaMachine::can_continue() const {
  return std::any_of(threads_.begin(), threads_.end(), [](const Thread& t) { return !t.done; });
}

std::string SchemaMachine::cache_key(int, int) const {
  std::string key(1, '\xFF');
  key.append(reinterpret_cast<const char*>(&s_->id_hi), 8);
  key.append(reinterpret_cast<const char*>(&s_->id_lo), 8);
  for (const auto& t : threads_) serialise(t, key);
  return key;
}

}  // namespace whale::sampling
