#include "sampling/schema_regex.h"

#include <algorithm>
#include <map>
#include <memory>

#include "util/error.h"

namespace whale::sampling {

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // sorted, disjoint, inclusive

constexpr uint32_t kMaxCp = 0x10FFFF;
constexpr int kMaxRepeat = 1000;
constexpr size_t kMaxNfaStates = 20000;
constexpr size_t kMaxDfaStates = 4000;

const Ranges& spellable_ranges() {
  static const Ranges r = {{0x08, 0x0A}, {0x0C, 0x0D}, {0x20, 0xD7FF}, {0xE000, kMaxCp}};
  return r;
}

Ranges normalise(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1)
      out.back().second = std::max(out.back().second, hi);
    else
      out.push_back({lo, hi});
  }
  return out;
}

Ranges complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCp) out.push_back({next, kMaxCp});
  return out;
}

const Ranges& digit_class() {
  static const Ranges r = {{'0', '9'}};
  return r;
}
const Ranges& word_class() {
  static const Ranges r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  return r;
}
const Ranges& space_class() {
  // ECMA-262 WhiteSpace and LineTerminator.
  static const Ranges r = normalise({{0x09, 0x0D}, {0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680},
                                     {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
                                     {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}});
  return r;
}
const Ranges& dot_class() {
  static const Ranges r = complement({{0x0A, 0x0A}, {0x0D, 0x0D}, {0x2028, 0x2029}});
  return r;
}

// Regex syntax tree.
struct Node {
  enum Kind { kClass, kCat, kAlt, kRepeat, kBol, kEol, kEmpty } kind = kEmpty;
  Ranges cls;
  std::vector<std::unique_ptr<Node>> kids;
  int min = 0, max = 0;  // repeat; max -1 = unbounded
};
using NodeP = std::unique_ptr<Node>;

NodeP make(Node::Kind k) {
  auto n = std::make_unique<Node>();
  n->kind = k;
  return n;
}

class Parser {
 public:
  Parser(std::string_view p, const std::string& where) : where_(where) {
    // Decode UTF-8 up front (a schema string is valid UTF-8 once nlohmann::json parsed it).
    for (size_t i = 0; i < p.size();) {
      const uint8_t c = static_cast<uint8_t>(p[i]);
      int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      if (i + len > p.size()) error("truncated UTF-8");
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(p[i + k]) & 0x3F);
      cps_.push_back(cp);
      i += len;
    }
  }

  NodeP parse() {
    NodeP n = alternation();
    if (pos_ < cps_.size()) error("unbalanced ')'");
    return n;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail("strict schema at ", where_, ": pattern not supported: ", what, " (at character ", pos_, ")");
  }
  bool more() const { return pos_ < cps_.size(); }
  uint32_t peek() const { return cps_[pos_]; }
  bool eat(uint32_t c) {
    if (more() && peek() == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  NodeP alternation() {
    NodeP first = concatenation();
    if (!more() || peek() != '|') return first;
    NodeP alt = make(Node::kAlt);
    alt->kids.push_back(std::move(first));
    while (eat('|')) alt->kids.push_back(concatenation());
    return alt;
  }

  NodeP concatenation() {
    NodeP cat = make(Node::kCat);
    while (more() && peek() != '|' && peek() != ')') cat->kids.push_back(quantified());
    return cat;
  }

  // A decimal count inside {m,n}; -1 when there is none.
  int number() {
    if (!more() || peek() < '0' || peek() > '9') return -1;
    long v = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > kMaxRepeat) error(str_cat("repeat count above ", kMaxRepeat));
      ++pos_;
    }
    return static_cast<int>(v);
  }

  NodeP quantified() {
    NodeP atom_node = atom();
    for (;;) {
      int lo = 0, hi = 0;
      const size_t save = pos_;
      if (eat('*')) {
        lo = 0, hi = -1;
      } else if (eat('+')) {
        lo = 1, hi = -1;
      } else if (eat('?')) {
        lo = 0, hi = 1;
      } else if (eat('{')) {
        lo = number();
        hi = lo;
        if (lo >= 0 && eat(',')) hi = more() && peek() == '}' ? -1 : number();
        if (lo < 0 || (hi < 0 && hi != -1) || !eat('}')) {
          pos_ = save;  // not a quantifier: '{' is a literal (as browsers read it)
          return atom_node;
        }
        if (hi != -1 && hi < lo) error("repeat {m,n} with n < m");
      } else {
        return atom_node;
      }
      eat('?');  // lazy: same language
      if (atom_node->kind == Node::kBol || atom_node->kind == Node::kEol)
        error("quantified anchor");
      NodeP rep = make(Node::kRepeat);
      rep->min = lo;
      rep->max = hi;
      rep->kids.push_back(std::move(atom_node));
      atom_node = std::move(rep);
    }
  }

  NodeP atom() {
    const uint32_t c = peek();
    ++pos_;
    switch (c) {
      case '(': {
        if (eat('?')) {
          if (eat(':')) {
          } else if (eat('<') && more() && peek() != '=' && peek() != '!') {
            while (more() && peek() != '>') ++pos_;  // named group: the name does not matter
            if (!eat('>')) error("unterminated group name");
          } else {
            error("lookaround");
          }
        }
        NodeP inner = alternation();
        if (!eat(')')) error("missing ')'");
        return inner;
      }
      case ')':
        error("unbalanced ')'");
      case '^':
        return make(Node::kBol);
      case '$':
        return make(Node::kEol);
      case '.':
        return cls(dot_class());
      case '[':
        return bracket();
      case '*':
      case '+':
      case '?':
        error("quantifier without an atom");
      case '\\':
        return cls(escape(false));
      default:
        return cls({{c, c}});
    }
  }

  NodeP cls(Ranges r) {
    NodeP n = make(Node::kClass);
    n->cls = normalise(std::move(r));
    return n;
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (!more()) error("short hex escape");
      const uint32_t c = peek();
      ++pos_;
      int d = c >= '0' && c <= '9' ? int(c - '0') : c >= 'a' && c <= 'f' ? int(c - 'a' + 10)
              : c >= 'A' && c <= 'F' ? int(c - 'A' + 10) : -1;
      if (d < 0) error("bad hex escape");
      v = v * 16 + d;
    }
    return v;
  }

  // After a backslash: the class it stands for.
  Ranges escape(bool in_class) {
    if (!more()) error("trailing backslash");
    const uint32_t c = peek();
    ++pos_;
    switch (c) {
      case 'd': return digit_class();
      case 'D': return complement(digit_class());
      case 'w': return word_class();
      case 'W': return complement(word_class());
      case 's': return space_class();
      case 'S': return complement(space_class());
      case 'n': return {{0x0A, 0x0A}};
      case 'r': return {{0x0D, 0x0D}};
      case 't': return {{0x09, 0x09}};
      case 'f': return {{0x0C, 0x0C}};
      case 'v': return {{0x0B, 0x0B}};
      case '0': return {{0, 0}};
      case 'x': { const uint32_t v = hex(2); return {{v, v}}; }
      case 'u': { const uint32_t v = hex(4); return {{v, v}}; }
      case 'b':
        if (in_class) return {{0x08, 0x08}};
        error("word boundary \\b");
      default:
        if (c >= '1' && c <= '9') error("backreference");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) error(str_cat("escape \\", char(c)));
        return {{c, c}};
    }
  }

  NodeP bracket() {
    const bool negate = eat('^');
    Ranges r;
    bool first = true;
    for (;;) {
      if (!more()) error("missing ']'");
      if (peek() == ']' && !first) break;
      first = false;
      Ranges lo_set = class_atom();
      if (lo_set.size() == 1 && lo_set[0].first == lo_set[0].second && more() && peek() == '-' &&
          pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        Ranges hi_set = class_atom();
        if (hi_set.size() != 1 || hi_set[0].first != hi_set[0].second)
          error("class range with a class end");
        if (hi_set[0].first < lo_set[0].first) error("class range out of order");
        r.push_back({lo_set[0].first, hi_set[0].first});
      } else {
        r.insert(r.end(), lo_set.begin(), lo_set.end());
      }
    }
    ++pos_;  // ']'
    r = normalise(std::move(r));
    return cls(negate ? complement(r) : r);
  }

  Ranges class_atom() {
    const uint32_t c = peek();
    ++pos_;
    if (c == '\\') return escape(true);
    return {{c, c}};
  }

  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  const std::string& where_;
};

// Thompson NFA. Anchors are epsilon edges taken only at the start (^) or the end ($).
struct Nfa {
  struct State {
    std::vector<int> eps, bol, eol;
    int cls = -1, to = -1;
  };
  std::vector<State> states;
  std::vector<Ranges> classes;
  int start = 0, final = 0;

  int add() {
    if (states.size() >= kMaxNfaStates) return -1;
    states.emplace_back();
    return static_cast<int>(states.size()) - 1;
  }
};

class NfaBuilder {
 public:
  NfaBuilder(Nfa& nfa, const std::string& where) : nfa_(nfa), where_(where) {}

  // Emits `n` between fresh states; returns {in, out}.
  std::pair<int, int> emit(const Node& n) {
    const int in = state(), out = state();
    switch (n.kind) {
      case Node::kEmpty:
        nfa_.states[in].eps.push_back(out);
        break;
      case Node::kClass:
        nfa_.classes.push_back(n.cls);
        nfa_.states[in].cls = static_cast<int>(nfa_.classes.size()) - 1;
        nfa_.states[in].to = out;
        break;
      case Node::kBol:
        nfa_.states[in].bol.push_back(out);
        break;
      case Node::kEol:
        nfa_.states[in].eol.push_back(out);
        break;
      case Node::kCat: {
        int cur = in;
        for (const auto& k : n.kids) {
          auto [a, b] = emit(*k);
          nfa_.states[cur].eps.push_back(a);
          cur = b;
        }
        nfa_.states[cur].eps.push_back(out);
        break;
      }
      case Node::kAlt:
        for (const auto& k : n.kids) {
          auto [a, b] = emit(*k);
          nfa_.states[in].eps.push_back(a);
          nfa_.states[b].eps.push_back(out);
        }
        break;
      case Node::kRepeat: {
        int cur = in;
        for (int i = 0; i < n.min; ++i) {
          auto [a, b] = emit(*n.kids[0]);
          nfa_.states[cur].eps.push_back(a);
          cur = b;
        }
        if (n.max == -1) {
          auto [a, b] = emit(*n.kids[0]);
          nfa_.states[cur].eps.push_back(a);
          nfa_.states[b].eps.push_back(cur);
          nfa_.states[cur].eps.push_back(out);
        } else {
          for (int i = n.min; i < n.max; ++i) {
            auto [a, b] = emit(*n.kids[0]);
            nfa_.states[cur].eps.push_back(a);
            nfa_.states[cur].eps.push_back(out);  // stop repeating here
            cur = b;
          }
          nfa_.states[cur].eps.push_back(out);
        }
        break;
      }
    }
    return {in, out};
  }

 private:
  int state() {
    const int s = nfa_.add();
    if (s < 0) fail("strict schema at ", where_, ": pattern too large (over ", kMaxNfaStates, " states)");
    return s;
  }
  Nfa& nfa_;
  const std::string& where_;
};

using StateSet = std::vector<int>;  // sorted NFA states

// Epsilon closures, with a reusable visited stamp and a budget on the total work so a
// pathological pattern fails fast instead of stalling a request.
class Closer {
 public:
  Closer(const Nfa& nfa, const std::string& where) : nfa_(nfa), stamp_(nfa.states.size(), 0), where_(where) {}

  StateSet operator()(const StateSet& seeds, bool bol, bool eol) {
    ++gen_;
    std::vector<int> stack;
    StateSet out;
    for (int s : seeds)
      if (stamp_[s] != gen_) {
        stamp_[s] = gen_;
        stack.push_back(s);
      }
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      out.push_back(s);
      const auto& st = nfa_.states[s];
      auto follow = [&](const std::vector<int>& targets) {
        for (int t : targets)
          if (stamp_[t] != gen_) {
            stamp_[t] = gen_;
            stack.push_back(t);
          }
      };
      follow(st.eps);
      if (bol) follow(st.bol);
      if (eol) follow(st.eol);
    }
    charge(out.size() + seeds.size());
    std::sort(out.begin(), out.end());
    return out;
  }

  void charge(size_t work) {
    work_ += work;
    if (work_ > kMaxWork) fail("strict schema at ", where_, ": pattern too complex to compile");
  }

 private:
  static constexpr size_t kMaxWork = 50'000'000;
  const Nfa& nfa_;
  std::vector<uint32_t> stamp_;
  uint32_t gen_ = 0;
  size_t work_ = 0;
  const std::string& where_;
};

bool contains(const StateSet& s, int x) { return std::binary_search(s.begin(), s.end(), x); }

CodepointDfa determinise(const Nfa& nfa, const std::string& where) {
  // Elementary intervals: no class boundary and no spellability boundary falls inside one.
  std::vector<uint32_t> cuts = {0, kMaxCp + 1};
  for (const auto& c : nfa.classes)
    for (const auto& [lo, hi] : c) cuts.insert(cuts.end(), {lo, hi + 1});
  for (const auto& [lo, hi] : spellable_ranges()) cuts.insert(cuts.end(), {lo, hi + 1});
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  struct Interval { uint32_t lo, hi; };
  std::vector<Interval> iv;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    if (spellable_codepoint(cuts[i])) iv.push_back({cuts[i], cuts[i + 1] - 1});
  auto covers = [&](int cls, uint32_t cp) {
    const Ranges& r = nfa.classes[cls];
    auto it = std::upper_bound(r.begin(), r.end(), std::make_pair(cp, kMaxCp + 1));
    return it != r.begin() && std::prev(it)->second >= cp;
  };

  // Search semantics: a match may start at every position, so each set also holds the start
  // closure (without ^). Once the whole pattern matched, the rest is free: one sticky state.
  Closer closure(nfa, where);
  const StateSet restart = closure({nfa.start}, false, false);
  const StateSet kAll = {-1};
  std::map<StateSet, int32_t> ids;
  std::vector<StateSet> sets;
  auto intern = [&](StateSet s) -> int32_t {
    if (s != kAll && contains(s, nfa.final)) s = kAll;
    auto [it, fresh] = ids.emplace(s, static_cast<int32_t>(sets.size()));
    if (fresh) {
      if (sets.size() >= kMaxDfaStates)
        fail("strict schema at ", where, ": pattern too complex (over ", kMaxDfaStates, " automaton states)");
      sets.push_back(s);
    }
    return it->second;
  };
  intern(closure({nfa.start}, true, false));
  std::vector<std::vector<int32_t>> next;  // per state, per interval
  std::vector<uint8_t> accepting;
  for (size_t d = 0; d < sets.size(); ++d) {
    const StateSet cur = sets[d];
    std::vector<int32_t> row(iv.size(), -1);
    if (cur == kAll) {
      accepting.push_back(1);
      std::fill(row.begin(), row.end(), static_cast<int32_t>(d));
      next.push_back(std::move(row));
      continue;
    }
    accepting.push_back(contains(closure(cur, d == 0, true), nfa.final) ? 1 : 0);
    closure.charge(iv.size() * cur.size());
    for (size_t k = 0; k < iv.size(); ++k) {
      StateSet moved;
      for (int s : cur) {
        const auto& st = nfa.states[s];
        if (st.cls >= 0 && covers(st.cls, iv[k].lo)) moved.push_back(st.to);
      }
      moved.insert(moved.end(), restart.begin(), restart.end());
      std::sort(moved.begin(), moved.end());
      moved.erase(std::unique(moved.begin(), moved.end()), moved.end());
      row[k] = intern(closure(moved, false, false));
    }
    next.push_back(std::move(row));
  }

  // Keep the states that can still reach an accepting one.
  const size_t n = sets.size();
  std::vector<uint8_t> live(accepting);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t d = 0; d < n; ++d) {
      if (live[d]) continue;
      for (int32_t t : next[d])
        if (t >= 0 && live[t]) {
          live[d] = 1;
          changed = true;
          break;
        }
    }
  }
  if (!live[0]) fail("strict schema at ", where, ": pattern matches no string a JSON value can hold");
  std::vector<int32_t> renum(n, -1);
  int32_t count = 0;
  for (size_t d = 0; d < n; ++d)
    if (live[d]) renum[d] = count++;
  CodepointDfa dfa;
  dfa.edges_.resize(count);
  dfa.accepting_.resize(count);
  for (size_t d = 0; d < n; ++d) {
    if (!live[d]) continue;
    auto& edges = dfa.edges_[renum[d]];
    dfa.accepting_[renum[d]] = accepting[d];
    for (size_t k = 0; k < iv.size(); ++k) {
      const int32_t t = next[d][k];
      if (t < 0 || !live[t]) continue;
      if (!edges.empty() && edges.back().to == renum[t] && edges.back().hi + 1 == iv[k].lo)
        edges.back().hi = iv[k].hi;
      else
        edges.push_back({iv[k].lo, iv[k].hi, renum[t]});
    }
  }
  return dfa;
}

}  // namespace

bool spellable_codepoint(uint32_t cp) {
  for (const auto& [lo, hi] : spellable_ranges())
    if (cp >= lo && cp <= hi) return true;
  return false;
}

CodepointDfa CodepointDfa::any_string() {
  CodepointDfa d;
  d.accepting_ = {1};
  d.edges_.resize(1);
  for (const auto& [lo, hi] : spellable_ranges()) d.edges_[0].push_back({lo, hi, 0});
  return d;
}

int32_t CodepointDfa::next(int32_t state, uint32_t cp) const {
  const auto& e = edges_[state];
  auto it = std::upper_bound(e.begin(), e.end(), cp,
                             [](uint32_t v, const Edge& x) { return v < x.lo; });
  if (it == e.begin()) return -1;
  --it;
  return cp <= it->hi ? it->to : -1;
}

bool CodepointDfa::any_in(int32_t state, uint32_t lo, uint32_t hi) const {
  for (const auto& x : edges_[state])
    if (x.lo <= hi && lo <= x.hi) return true;
  return false;
}

CodepointDfa compile_pattern(std::string_view pattern, const std::string& where) {
  NodeP tree = Parser(pattern, where).parse();
  Nfa nfa;
  NfaBuilder builder(nfa, where);
  auto [in, out] = builder.emit(*tree);
  nfa.start = in;
  nfa.final = out;
  return determinise(nfa, where);
}

CodepointDfa compile_format(std::string_view format, const std::string& where) {
  // Practical shapes of each format (RFC 5321 addresses are far looser; these are what tools
  // expect). Hostname labels are 1-63 characters, not starting or ending with '-'.
  static const std::map<std::string, std::string, std::less<>> kFormats = {
      {"email", "^[A-Za-z0-9._%+-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.[A-Za-z]{2,63}$"},
      {"hostname", "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"},
      {"ipv4", "^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$"},
      {"ipv6",
       "^(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
       "|([0-9a-fA-F]{1,4}:){1,7}:"
       "|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}"
       "|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}"
       "|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}"
       "|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}"
       "|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}"
       "|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}"
       "|:((:[0-9a-fA-F]{1,4}){1,7}|:))$"},
      {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
  };
  auto it = kFormats.find(format);
  if (it == kFormats.end())
    fail("strict schema at ", where, ": format \"", format,
         "\" is not supported (email, hostname, ipv4, ipv6, uuid)");
  return compile_pattern(it->second, where);
}

}  // namespace whale::sampling
