// Jinja2 builtin filters and the Python methods of str/dict/list, with Python semantics.
#include <algorithm>
#include <cmath>
#include <set>

#include "chat/jinja_renderer.h"
#include "chat/jinja_strings.h"

namespace whale::chat::jinja {
namespace {

// Positional argument `idx` or keyword `name`; nullptr when absent.
const Value* arg(const CallArgs& a, std::size_t idx, const char* name) {
  if (idx < a.pos.size()) return &a.pos[idx];
  for (const auto& [k, v] : a.kw)
    if (k == name) return &v;
  return nullptr;
}

std::string need_str(Renderer& r, const Value* v, const char* what, int line) {
  if (!v || !v->is_string())
    r.fail(line, whale::str_cat("TypeError: ", what, " must be str, not ", v ? type_name(*v) : "missing"));
  return v->s;
}

std::optional<std::string> opt_str(Renderer& r, const Value* v, const char* what, int line) {
  if (!v || v->is_none()) return std::nullopt;
  return need_str(r, v, what, line);
}

long opt_int(Renderer& r, const Value* v, long dflt, int line) {
  if (!v || v->is_none()) return dflt;
  if (v->kind == Value::Kind::Int) return static_cast<long>(v->i);
  if (v->kind == Value::Kind::Bool) return v->b ? 1 : 0;
  r.fail(line, whale::str_cat("TypeError: an integer is required, not ", type_name(*v)));
}

Value str_list(const std::vector<std::string>& parts) {
  Value out = Value::make_list();
  for (const auto& p : parts) out.list->push_back(Value::string(p));
  return out;
}

Value tuple2(Value a, Value b) {
  Value t = Value::make_list({std::move(a), std::move(b)});
  t.is_tuple = true;
  return t;
}

std::int64_t py_len(Renderer& r, const Value& v, int line) {
  switch (v.kind) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<std::int64_t>(utf8_length(v.s));
    case Value::Kind::List: return static_cast<std::int64_t>(v.list->size());
    case Value::Kind::Dict:
    case Value::Kind::Namespace: return static_cast<std::int64_t>(v.dict->items.size());
    default: r.fail(line, whale::str_cat("TypeError: object of type '", type_name(v), "' has no len()"));
  }
}

// Dotted attribute path ("function.name") as used by map/selectattr/sort.
Value attr_path(Renderer& r, const Value& obj, const std::string& path, int line) {
  Value cur = obj;
  std::size_t pos = 0;
  while (true) {
    std::size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (cur.is_undefined()) return cur;
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? get_item(r, cur, Value::integer(std::stoll(part)), line) : get_item(r, cur, Value::string(part), line);
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value bound(Value self, Value (*fn)(Renderer&, const Value&, CallArgs&)) {
  return Value::callable([self = std::move(self), fn](Renderer& r, CallArgs& a) { return fn(r, self, a); });
}

// ---- str methods ----
using Method = Value (*)(Renderer&, const Value&, CallArgs&);

Value m_startswith_impl(Renderer& r, const Value& self, CallArgs& a, bool ends) {
  const Value* p = arg(a, 0, "prefix");
  if (!p) r.fail(a.line, "TypeError: startswith() takes at least 1 argument");
  std::vector<std::string> cands;
  if (p->is_list()) {
    for (const Value& x : *p->list) cands.push_back(need_str(r, &x, "prefix", a.line));
  } else {
    cands.push_back(need_str(r, p, "prefix", a.line));
  }
  for (const auto& c : cands) {
    if (c.size() > self.s.size()) continue;
    if (ends ? self.s.compare(self.s.size() - c.size(), c.size(), c) == 0 : self.s.compare(0, c.size(), c) == 0)
      return Value::boolean(true);
  }
  return Value::boolean(false);
}
Value m_startswith(Renderer& r, const Value& s, CallArgs& a) { return m_startswith_impl(r, s, a, false); }
Value m_endswith(Renderer& r, const Value& s, CallArgs& a) { return m_startswith_impl(r, s, a, true); }
Value m_strip(Renderer& r, const Value& s, CallArgs& a) { return Value::string(py_strip(s.s, opt_str(r, arg(a, 0, "chars"), "chars", a.line), true, true)); }
Value m_lstrip(Renderer& r, const Value& s, CallArgs& a) { return Value::string(py_strip(s.s, opt_str(r, arg(a, 0, "chars"), "chars", a.line), true, false)); }
Value m_rstrip(Renderer& r, const Value& s, CallArgs& a) { return Value::string(py_strip(s.s, opt_str(r, arg(a, 0, "chars"), "chars", a.line), false, true)); }
Value m_split(Renderer& r, const Value& s, CallArgs& a) {
  try {
    return str_list(py_split(s.s, opt_str(r, arg(a, 0, "sep"), "sep", a.line), opt_int(r, arg(a, 1, "maxsplit"), -1, a.line)));
  } catch (const TemplateRenderError&) {
    throw;
  } catch (const whale::Error& e) {
    r.fail(a.line, e.what());
  }
}
Value m_rsplit(Renderer& r, const Value& s, CallArgs& a) {
  try {
    return str_list(py_rsplit(s.s, opt_str(r, arg(a, 0, "sep"), "sep", a.line), opt_int(r, arg(a, 1, "maxsplit"), -1, a.line)));
  } catch (const TemplateRenderError&) {
    throw;
  } catch (const whale::Error& e) {
    r.fail(a.line, e.what());
  }
}
Value m_splitlines(Renderer& r, const Value& s, CallArgs& a) {
  const Value* k = arg(a, 0, "keepends");
  return str_list(py_splitlines(s.s, k && k->truthy()));
}
Value m_replace(Renderer& r, const Value& s, CallArgs& a) {
  std::string old = need_str(r, arg(a, 0, "old"), "replace() argument 1", a.line);
  std::string with = need_str(r, arg(a, 1, "new"), "replace() argument 2", a.line);
  try {
    return Value::string(py_replace(s.s, old, with, opt_int(r, arg(a, 2, "count"), -1, a.line), r.limits().max_output_bytes));
  } catch (const TemplateRenderError&) {
    throw;
  } catch (const whale::Error& e) {
    r.fail(a.line, e.what());
  }
}
Value m_upper(Renderer&, const Value& s, CallArgs&) { return Value::string(ascii_upper(s.s)); }
Value m_lower(Renderer&, const Value& s, CallArgs&) { return Value::string(ascii_lower(s.s)); }
Value m_title(Renderer&, const Value& s, CallArgs&) { return Value::string(py_title(s.s)); }
Value m_capitalize(Renderer&, const Value& s, CallArgs&) { return Value::string(py_capitalize(s.s)); }
Value m_find_impl(Renderer& r, const Value& s, CallArgs& a, bool reverse) {
  std::string sub = need_str(r, arg(a, 0, "sub"), "find() argument", a.line);
  std::size_t f = reverse ? s.s.rfind(sub) : s.s.find(sub);
  if (f == std::string::npos) return Value::integer(-1);
  return Value::integer(static_cast<std::int64_t>(utf8_length(s.s.substr(0, f))));
}
Value m_find(Renderer& r, const Value& s, CallArgs& a) { return m_find_impl(r, s, a, false); }
Value m_rfind(Renderer& r, const Value& s, CallArgs& a) { return m_find_impl(r, s, a, true); }
Value m_count(Renderer& r, const Value& s, CallArgs& a) {
  std::string sub = need_str(r, arg(a, 0, "sub"), "count() argument", a.line);
  if (sub.empty()) return Value::integer(static_cast<std::int64_t>(utf8_length(s.s) + 1));
  std::int64_t n = 0;
  for (std::size_t p = s.s.find(sub); p != std::string::npos; p = s.s.find(sub, p + sub.size())) ++n;
  return Value::integer(n);
}
Value m_join(Renderer& r, const Value& s, CallArgs& a) {
  const Value* it = arg(a, 0, "iterable");
  if (!it) r.fail(a.line, "TypeError: join() takes exactly one argument");
  std::string out;
  bool first = true;
  for (const Value& x : iterate(r, *it, a.line)) {
    if (!x.is_string()) r.fail(a.line, whale::str_cat("TypeError: sequence item: expected str instance, ", type_name(x), " found"));
    if (!first) out += s.s;
    first = false;
    out += x.s;
    r.check_size(out.size(), a.line);
  }
  return Value::string(std::move(out));
}
template <bool (*Pred)(char)>
Value m_is(Renderer&, const Value& s, CallArgs&) {
  if (s.s.empty()) return Value::boolean(false);
  for (char c : s.s)
    if (!Pred(c)) return Value::boolean(false);
  return Value::boolean(true);
}
bool c_digit(char c) { return c >= '0' && c <= '9'; }
bool c_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80; }
bool c_alnum(char c) { return c_digit(c) || c_alpha(c); }
bool c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
Value m_islower(Renderer&, const Value& s, CallArgs&) {
  bool cased = false;
  for (char c : s.s) {
    if (c >= 'A' && c <= 'Z') return Value::boolean(false);
    if (c >= 'a' && c <= 'z') cased = true;
  }
  return Value::boolean(cased);
}
Value m_isupper(Renderer&, const Value& s, CallArgs&) {
  bool cased = false;
  for (char c : s.s) {
    if (c >= 'a' && c <= 'z') return Value::boolean(false);
    if (c >= 'A' && c <= 'Z') cased = true;
  }
  return Value::boolean(cased);
}

// ---- dict / list methods ----
Value m_items(Renderer&, const Value& d, CallArgs&) {
  Value out = Value::make_list();
  for (const auto& [k, v] : d.dict->items) out.list->push_back(tuple2(Value::string(k), v));
  return out;
}
Value m_keys(Renderer&, const Value& d, CallArgs&) {
  Value out = Value::make_list();
  for (const auto& kv : d.dict->items) out.list->push_back(Value::string(kv.first));
  return out;
}
Value m_values(Renderer&, const Value& d, CallArgs&) {
  Value out = Value::make_list();
  for (const auto& kv : d.dict->items) out.list->push_back(kv.second);
  return out;
}
Value m_get(Renderer& r, const Value& d, CallArgs& a) {
  const Value* k = arg(a, 0, "key");
  if (!k) r.fail(a.line, "TypeError: get expected at least 1 argument");
  if (k->is_string())
    if (const Value* v = d.dict->find(k->s)) return *v;
  const Value* dflt = arg(a, 1, "default");
  return dflt ? *dflt : Value::none();
}
Value m_list_index(Renderer& r, const Value& l, CallArgs& a) {
  const Value* x = arg(a, 0, "value");
  if (!x) r.fail(a.line, "TypeError: index expected 1 argument");
  for (std::size_t k = 0; k < l.list->size(); ++k)
    if (equals((*l.list)[k], *x)) return Value::integer(static_cast<std::int64_t>(k));
  r.fail(a.line, "ValueError: value is not in list");
}
Value m_list_count(Renderer& r, const Value& l, CallArgs& a) {
  const Value* x = arg(a, 0, "value");
  if (!x) r.fail(a.line, "TypeError: count expected 1 argument");
  std::int64_t n = 0;
  for (const Value& v : *l.list) n += equals(v, *x);
  return Value::integer(n);
}

Method str_method(const std::string& n) {
  static const std::pair<const char*, Method> table[] = {
      {"startswith", m_startswith}, {"endswith", m_endswith}, {"strip", m_strip},       {"lstrip", m_lstrip},
      {"rstrip", m_rstrip},         {"split", m_split},       {"rsplit", m_rsplit},     {"splitlines", m_splitlines},
      {"replace", m_replace},       {"upper", m_upper},       {"lower", m_lower},       {"title", m_title},
      {"capitalize", m_capitalize}, {"find", m_find},         {"rfind", m_rfind},       {"count", m_count},
      {"join", m_join},             {"isdigit", m_is<c_digit>}, {"isalpha", m_is<c_alpha>},
      {"isalnum", m_is<c_alnum>},   {"isspace", m_is<c_space>}, {"islower", m_islower}, {"isupper", m_isupper},
  };
  for (const auto& [name, fn] : table)
    if (n == name) return fn;
  return nullptr;
}

// ---- filters ----

Value f_tojson(Renderer& r, const Value& v, CallArgs& a) {
  const Value* ind = arg(a, 0, "indent");
  const Value* sk = arg(a, 99, "sort_keys");
  int indent = -1;
  if (ind && !ind->is_none()) {
    if (ind->kind != Value::Kind::Int || ind->i < 0 || ind->i > 64) r.fail(a.line, "tojson: indent must be an integer 0..64");
    indent = static_cast<int>(ind->i);
  }
  for (const auto& [k, x] : a.kw)
    if (k == "ensure_ascii" && x.truthy()) throw UnsupportedTemplateError("tojson(ensure_ascii=true)", a.line);
  try {
    std::string s = to_json(v, indent, sk && sk->truthy());
    r.check_size(s.size(), a.line);
    return Value::string(std::move(s));
  } catch (const TemplateRenderError& e) {
    r.fail(a.line, e.what());
  }
}

bool truthy_test(Renderer& r, const Value& item, const Value* test, CallArgs& a, std::size_t first_extra, int line) {
  if (!test) return item.truthy();
  CallArgs ta;
  ta.line = line;
  for (std::size_t k = first_extra; k < a.pos.size(); ++k) ta.pos.push_back(a.pos[k]);
  return apply_test(r, need_str(r, test, "test name", line), item, ta, line);
}

Value f_select_impl(Renderer& r, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  Value out = Value::make_list();
  std::string attr;
  std::size_t test_idx = 0;
  if (by_attr) {
    attr = need_str(r, arg(a, 0, "attribute"), "attribute", a.line);
    test_idx = 1;
  }
  const Value* test = test_idx < a.pos.size() ? &a.pos[test_idx] : nullptr;
  for (const Value& item : iterate(r, v, a.line)) {
    Value probe = by_attr ? attr_path(r, item, attr, a.line) : item;
    if (truthy_test(r, probe, test, a, test_idx + 1, a.line) == keep) out.list->push_back(item);
  }
  return out;
}

Value f_map(Renderer& r, const Value& v, CallArgs& a) {
  Value out = Value::make_list();
  const Value* attr = arg(a, 99, "attribute");
  if (attr) {
    std::string path = need_str(r, attr, "attribute", a.line);
    const Value* dflt = arg(a, 99, "default");
    for (const Value& item : iterate(r, v, a.line)) {
      Value x = attr_path(r, item, path, a.line);
      out.list->push_back(x.is_undefined() && dflt ? *dflt : x);
    }
    return out;
  }
  std::string filter = need_str(r, arg(a, 0, "filter"), "map filter name", a.line);
  if (!is_known_filter(filter)) throw UnsupportedTemplateError(whale::str_cat("filter '", filter, "'"), a.line);
  for (const Value& item : iterate(r, v, a.line)) {
    CallArgs fa;
    fa.line = a.line;
    fa.pos.assign(a.pos.begin() + 1, a.pos.end());
    out.list->push_back(apply_filter(r, filter, item, fa, a.line));
  }
  return out;
}

Value f_sort(Renderer& r, const Value& v, CallArgs& a) {
  const Value* rev = arg(a, 0, "reverse");
  const Value* cs = arg(a, 1, "case_sensitive");
  const Value* attr = arg(a, 2, "attribute");
  std::vector<Value> items = iterate(r, v, a.line);
  auto key = [&](const Value& x) {
    Value k = attr ? attr_path(r, x, need_str(r, attr, "attribute", a.line), a.line) : x;
    if (k.is_string() && !(cs && cs->truthy())) k.s = ascii_lower(k.s);
    return k;
  };
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& x : items) keyed.emplace_back(key(x), x);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) { return less_than(r, x.first, y.first, a.line, "<"); });
  if (rev && rev->truthy()) std::reverse(keyed.begin(), keyed.end());
  Value out = Value::make_list();
  for (auto& kv : keyed) out.list->push_back(kv.second);
  return out;
}

Value f_dictsort(Renderer& r, const Value& v, CallArgs& a) {
  if (!v.is_mapping()) r.fail(a.line, "dictsort: value is not a dict");
  const Value* cs = arg(a, 0, "case_sensitive");
  const Value* by = arg(a, 1, "by");
  const Value* rev = arg(a, 2, "reverse");
  bool by_value = by && by->is_string() && by->s == "value";
  std::vector<std::pair<std::string, Value>> items = v.dict->items;
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    if (by_value) return less_than(r, x.second, y.second, a.line, "<");
    std::string kx = x.first, ky = y.first;
    if (!(cs && cs->truthy())) {
      kx = ascii_lower(kx);
      ky = ascii_lower(ky);
    }
    return kx < ky;
  });
  if (rev && rev->truthy()) std::reverse(items.begin(), items.end());
  Value out = Value::make_list();
  for (auto& [k, x] : items) out.list->push_back(tuple2(Value::string(k), x));
  return out;
}

Value f_indent(Renderer& r, const Value& v, CallArgs& a) {
  const Value* w = arg(a, 0, "width");
  const Value* first = arg(a, 1, "first");
  const Value* blank = arg(a, 2, "blank");
  std::string pad = w && w->is_string() ? w->s : std::string(static_cast<std::size_t>(std::clamp<long>(opt_int(r, w, 4, a.line), 0, 256)), ' ');
  std::vector<std::string> lines = py_splitlines(to_str(v), false);
  std::string s = to_str(v);
  std::string out;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    if (k) out += '\n';
    bool indent = (k > 0 || (first && first->truthy())) && (!lines[k].empty() || (blank && blank->truthy()));
    if (indent) out += pad;
    out += lines[k];
  }
  if (!s.empty() && s.back() == '\n') out += '\n';
  r.check_size(out.size(), a.line);
  return Value::string(std::move(out));
}

Value f_minmax(Renderer& r, const Value& v, CallArgs& a, bool want_max) {
  std::vector<Value> items = iterate(r, v, a.line);
  if (items.empty()) return Value::undefined("min/max of an empty sequence");
  Value best = items[0];
  for (const Value& x : items)
    if (want_max ? less_than(r, best, x, a.line, "<") : less_than(r, x, best, a.line, "<")) best = x;
  return best;
}

Value f_round(Renderer& r, const Value& v, CallArgs& a) {
  long prec = opt_int(r, arg(a, 0, "precision"), 0, a.line);
  const Value* m = arg(a, 1, "method");
  std::string method = m && m->is_string() ? m->s : "common";
  double x = v.as_double(), p = std::pow(10.0, static_cast<double>(prec));
  double y = method == "ceil" ? std::ceil(x * p) / p : method == "floor" ? std::floor(x * p) / p : std::round(x * p) / p;
  return Value::number(y);
}

Value f_int(Renderer& r, const Value& v, CallArgs& a) {
  const Value* d = arg(a, 0, "default");
  Value dflt = d ? *d : Value::integer(0);
  if (v.kind == Value::Kind::Int) return v;
  if (v.kind == Value::Kind::Bool) return Value::integer(v.b);
  if (v.kind == Value::Kind::Float) return std::isfinite(v.f) && std::fabs(v.f) < 9e18 ? Value::integer(static_cast<std::int64_t>(v.f)) : dflt;
  if (v.is_string()) {
    std::string s = py_strip(v.s, std::nullopt, true, true);
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == '\0' && errno == 0) return Value::integer(x);
    double f = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(f) && std::fabs(f) < 9e18) return Value::integer(static_cast<std::int64_t>(f));
  }
  return dflt;
}

Value f_float(Renderer& r, const Value& v, CallArgs& a) {
  const Value* d = arg(a, 0, "default");
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.s, std::nullopt, true, true);
    char* end = nullptr;
    double f = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::number(f);
  }
  return d ? *d : Value::number(0.0);
}

Value f_sum(Renderer& r, const Value& v, CallArgs& a) {
  const Value* attr = arg(a, 0, "attribute");
  const Value* start = arg(a, 1, "start");
  Value acc = start ? *start : Value::integer(0);
  for (const Value& x0 : iterate(r, v, a.line)) {
    Value x = attr ? attr_path(r, x0, need_str(r, attr, "attribute", a.line), a.line) : x0;
    if (!acc.is_number() || !x.is_number()) r.fail(a.line, "TypeError: sum of non-numbers");
    if (acc.kind == Value::Kind::Float || x.kind == Value::Kind::Float) acc = Value::number(acc.as_double() + x.as_double());
    else acc = Value::integer(acc.i + x.i);
  }
  return acc;
}


using Filter = Value (*)(Renderer&, const Value&, CallArgs&);

Value fl_length(Renderer& r, const Value& v, CallArgs& a) { return Value::integer(py_len(r, v, a.line)); }
Value fl_string(Renderer&, const Value& v, CallArgs&) { return Value::string(to_str(v)); }
Value fl_trim(Renderer& r, const Value& v, CallArgs& a) { return Value::string(py_strip(to_str(v), opt_str(r, arg(a, 0, "chars"), "chars", a.line), true, true)); }
Value fl_default(Renderer& r, const Value& v, CallArgs& a) {
  const Value* d = arg(a, 0, "default_value");
  const Value* boolean = arg(a, 1, "boolean");
  bool use = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
  if (!use) return v;
  return d ? *d : Value::string("");
}
Value fl_join(Renderer& r, const Value& v, CallArgs& a) {
  const Value* d = arg(a, 0, "d");
  const Value* attr = arg(a, 1, "attribute");
  std::string sep = d ? to_str(*d) : "";
  std::string out;
  bool first = true;
  for (const Value& x0 : iterate(r, v, a.line)) {
    Value x = attr ? attr_path(r, x0, to_str(*attr), a.line) : x0;
    if (!first) out += sep;
    first = false;
    out += to_str(x);
    r.check_size(out.size(), a.line);
  }
  return Value::string(std::move(out));
}
Value fl_replace(Renderer& r, const Value& v, CallArgs& a) {
  Value s = Value::string(to_str(v));
  CallArgs b = a;
  if (b.pos.size() > 0) b.pos[0] = Value::string(to_str(b.pos[0]));
  if (b.pos.size() > 1) b.pos[1] = Value::string(to_str(b.pos[1]));
  return m_replace(r, s, b);
}
Value fl_split(Renderer& r, const Value& v, CallArgs& a) { return m_split(r, Value::string(to_str(v)), a); }
Value fl_first(Renderer& r, const Value& v, CallArgs& a) {
  std::vector<Value> items = iterate(r, v, a.line);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value fl_last(Renderer& r, const Value& v, CallArgs& a) {
  std::vector<Value> items = iterate(r, v, a.line);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value fl_lower(Renderer&, const Value& v, CallArgs&) { return Value::string(ascii_lower(to_str(v))); }
Value fl_upper(Renderer&, const Value& v, CallArgs&) { return Value::string(ascii_upper(to_str(v))); }
Value fl_capitalize(Renderer&, const Value& v, CallArgs&) { return Value::string(py_capitalize(to_str(v))); }
Value fl_title(Renderer&, const Value& v, CallArgs&) { return Value::string(py_title(to_str(v))); }
Value fl_safe(Renderer&, const Value& v, CallArgs&) { return v; }
Value fl_escape(Renderer&, const Value& v, CallArgs&) { return Value::string(html_escape(to_str(v))); }
Value fl_items(Renderer& r, const Value& v, CallArgs& a) {
  if (v.is_undefined()) return Value::make_list();
  if (!v.is_mapping()) r.fail(a.line, whale::str_cat("TypeError: can only get item pairs from a mapping, not ", type_name(v)));
  return m_items(r, v, a);
}
Value fl_list(Renderer& r, const Value& v, CallArgs& a) { return Value::make_list(iterate(r, v, a.line)); }
Value fl_unique(Renderer& r, const Value& v, CallArgs& a) {
  Value out = Value::make_list();
  for (const Value& x : iterate(r, v, a.line)) {
    bool seen = false;
    for (const Value& y : *out.list) seen = seen || equals(x, y);
    if (!seen) out.list->push_back(x);
  }
  return out;
}
Value fl_reverse(Renderer& r, const Value& v, CallArgs& a) {
  if (v.is_string()) {
    std::vector<std::size_t> offs = utf8_offsets(v.s);
    std::string out;
    for (std::size_t k = offs.size(); k-- > 0;) {
      std::size_t e = k + 1 < offs.size() ? offs[k + 1] : v.s.size();
      out.append(v.s, offs[k], e - offs[k]);
    }
    return Value::string(std::move(out));
  }
  std::vector<Value> items = iterate(r, v, a.line);
  std::reverse(items.begin(), items.end());
  return Value::make_list(std::move(items));
}
Value fl_abs(Renderer& r, const Value& v, CallArgs& a) {
  if (v.kind == Value::Kind::Float) return Value::number(std::fabs(v.f));
  if (v.kind == Value::Kind::Int) {
    if (v.i == INT64_MIN) r.fail(a.line, "integer overflow");
    return Value::integer(v.i < 0 ? -v.i : v.i);
  }
  if (v.kind == Value::Kind::Bool) return Value::integer(v.b);
  r.fail(a.line, whale::str_cat("TypeError: bad operand type for abs(): '", type_name(v), "'"));
}
Value fl_select(Renderer& r, const Value& v, CallArgs& a) { return f_select_impl(r, v, a, false, true); }
Value fl_reject(Renderer& r, const Value& v, CallArgs& a) { return f_select_impl(r, v, a, false, false); }
Value fl_selectattr(Renderer& r, const Value& v, CallArgs& a) { return f_select_impl(r, v, a, true, true); }
Value fl_rejectattr(Renderer& r, const Value& v, CallArgs& a) { return f_select_impl(r, v, a, true, false); }
Value fl_min(Renderer& r, const Value& v, CallArgs& a) { return f_minmax(r, v, a, false); }
Value fl_max(Renderer& r, const Value& v, CallArgs& a) { return f_minmax(r, v, a, true); }
Value fl_attr(Renderer& r, const Value& v, CallArgs& a) { return get_attr(r, v, need_str(r, arg(a, 0, "name"), "attribute name", a.line), a.line); }
Value fl_wordcount(Renderer&, const Value& v, CallArgs&) { return Value::integer(static_cast<std::int64_t>(py_split(to_str(v), std::nullopt, -1).size())); }
Value fl_format(Renderer& r, const Value& v, CallArgs& a) {
  std::string fmt = to_str(v);
  std::string out;
  std::size_t next = 0;
  for (std::size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%' || k + 1 >= fmt.size()) {
      out += fmt[k];
      continue;
    }
    char c = fmt[++k];
    if (c == '%') {
      out += '%';
    } else if (c == 's' || c == 'd' || c == 'r') {
      if (next >= a.pos.size()) r.fail(a.line, "TypeError: not enough arguments for format string");
      out += c == 'r' ? to_repr(a.pos[next++]) : to_str(a.pos[next++]);
    } else {
      throw UnsupportedTemplateError(whale::str_cat("format conversion '%", c, "'"), a.line);
    }
  }
  return Value::string(std::move(out));
}
Value fl_center(Renderer& r, const Value& v, CallArgs& a) {
  std::string s = to_str(v);
  long w = std::clamp<long>(opt_int(r, arg(a, 0, "width"), 80, a.line), 0, 4096);
  long len = static_cast<long>(utf8_length(s));
  if (len >= w) return Value::string(s);
  long left = (w - len) / 2;
  return Value::string(std::string(static_cast<std::size_t>(left), ' ') + s + std::string(static_cast<std::size_t>(w - len - left), ' '));
}
Value fl_sort(Renderer& r, const Value& v, CallArgs& a) { return f_sort(r, v, a); }
Value fl_dictsort(Renderer& r, const Value& v, CallArgs& a) { return f_dictsort(r, v, a); }
Value fl_indent(Renderer& r, const Value& v, CallArgs& a) { return f_indent(r, v, a); }
Value fl_map(Renderer& r, const Value& v, CallArgs& a) { return f_map(r, v, a); }
Value fl_tojson(Renderer& r, const Value& v, CallArgs& a) { return f_tojson(r, v, a); }
Value fl_round(Renderer& r, const Value& v, CallArgs& a) { return f_round(r, v, a); }
Value fl_int(Renderer& r, const Value& v, CallArgs& a) { return f_int(r, v, a); }
Value fl_float(Renderer& r, const Value& v, CallArgs& a) { return f_float(r, v, a); }
Value fl_sum(Renderer& r, const Value& v, CallArgs& a) { return f_sum(r, v, a); }
Value fl_bool(Renderer&, const Value& v, CallArgs&) { return Value::boolean(v.truthy()); }

Filter find_filter(const std::string& n) {
  static const std::pair<const char*, Filter> table[] = {
      {"length", fl_length},   {"count", fl_length},         {"string", fl_string},       {"trim", fl_trim},
      {"default", fl_default}, {"d", fl_default},            {"join", fl_join},           {"replace", fl_replace},
      {"split", fl_split},     {"first", fl_first},          {"last", fl_last},           {"lower", fl_lower},
      {"upper", fl_upper},     {"capitalize", fl_capitalize}, {"title", fl_title},        {"safe", fl_safe},
      {"escape", fl_escape},   {"e", fl_escape},             {"forceescape", fl_escape},  {"items", fl_items},
      {"list", fl_list},       {"unique", fl_unique},        {"reverse", fl_reverse},     {"abs", fl_abs},
      {"select", fl_select},   {"reject", fl_reject},        {"selectattr", fl_selectattr}, {"rejectattr", fl_rejectattr},
      {"map", fl_map},         {"sort", fl_sort},            {"dictsort", fl_dictsort},   {"min", fl_min},
      {"max", fl_max},         {"sum", fl_sum},              {"int", fl_int},             {"float", fl_float},
      {"round", fl_round},     {"tojson", fl_tojson},        {"indent", fl_indent},       {"attr", fl_attr},
      {"wordcount", fl_wordcount}, {"format", fl_format},    {"center", fl_center},       {"bool", fl_bool},
  };
  for (const auto& [name, fn] : table)
    if (n == name) return fn;
  return nullptr;
}

}  // namespace

bool is_known_filter(const std::string& name) { return find_filter(name) != nullptr; }

Value apply_filter(Renderer& r, const std::string& name, Value input, CallArgs& args, int line) {
  Filter f = find_filter(name);
  if (!f) throw UnsupportedTemplateError(whale::str_cat("filter '", name, "'"), line);
  args.line = line;
  return f(r, input, args);
}

Value get_attr(Renderer& r, const Value& obj, const std::string& name, int line) {
  switch (obj.kind) {
    case Value::Kind::String:
      if (Method m = str_method(name)) return bound(obj, m);
      if (name == "format") throw UnsupportedTemplateError("str.format", line);
      return Value::undefined(whale::str_cat("'str object' has no attribute '", name, "'"));
    case Value::Kind::Dict: {
      static const std::pair<const char*, Method> methods[] = {
          {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get}};
      for (const auto& [n, m] : methods)
        if (name == n) return bound(obj, m);
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined(whale::str_cat("'dict object' has no attribute '", name, "'"));
    }
    case Value::Kind::Namespace:
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined(whale::str_cat("'Namespace' has no attribute '", name, "'"));
    case Value::Kind::List:
      if (name == "index") return bound(obj, m_list_index);
      if (name == "count") return bound(obj, m_list_count);
      if (name == "append" || name == "pop" || name == "insert" || name == "extend")
        r.fail(line, whale::str_cat("SecurityError: access to attribute '", name, "' of 'list' object is unsafe."));
      return Value::undefined(whale::str_cat("'list object' has no attribute '", name, "'"));
    default:
      return Value::undefined(whale::str_cat("'", type_name(obj), " object' has no attribute '", name, "'"));
  }
}

Value get_item(Renderer& r, const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) r.fail(line, whale::str_cat("UndefinedError: ", obj.s));
  if (obj.is_mapping()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict->find(key.s)) return *v;
      return Value::undefined(whale::str_cat("'dict object' has no attribute '", key.s, "'"));
    }
    return Value::undefined(whale::str_cat("'dict object' has no attribute ", to_repr(key)));
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind == Value::Kind::Int || key.kind == Value::Kind::Bool)) {
    std::int64_t k = key.kind == Value::Kind::Bool ? key.b : key.i;
    if (obj.is_list()) {
      auto n = static_cast<std::int64_t>(obj.list->size());
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined(whale::str_cat("list object has no element ", key.i));
      return (*obj.list)[static_cast<std::size_t>(k)];
    }
    std::vector<std::size_t> offs = utf8_offsets(obj.s);
    auto n = static_cast<std::int64_t>(offs.size());
    if (k < 0) k += n;
    if (k < 0 || k >= n) return Value::undefined(whale::str_cat("str object has no element ", key.i));
    std::size_t b = offs[static_cast<std::size_t>(k)];
    std::size_t e = static_cast<std::size_t>(k) + 1 < offs.size() ? offs[static_cast<std::size_t>(k) + 1] : obj.s.size();
    return Value::string(obj.s.substr(b, e - b));
  }
  if (key.is_string()) return get_attr(r, obj, key.s, line);
  return Value::undefined(whale::str_cat("'", type_name(obj), " object' has no item ", to_repr(key)));
}

std::vector<Value> iterate(Renderer& r, const Value& v, int line) {
  switch (v.kind) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return *v.list;
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& kv : v.dict->items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      std::vector<std::size_t> offs = utf8_offsets(v.s);
      for (std::size_t k = 0; k < offs.size(); ++k) {
        std::size_t e = k + 1 < offs.size() ? offs[k + 1] : v.s.size();
        chars.push_back(Value::string(v.s.substr(offs[k], e - offs[k])));
      }
      return chars;
    }
    default: r.fail(line, whale::str_cat("TypeError: '", type_name(v), "' object is not iterable"));
  }
}

bool less_than(Renderer& r, const Value& a, const Value& b, int line, const char* op) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Value::Kind::Float || b.kind == Value::Kind::Float) return a.as_double() < b.as_double();
    auto ai = a.kind == Value::Kind::Bool ? static_cast<std::int64_t>(a.b) : a.i;
    auto bi = b.kind == Value::Kind::Bool ? static_cast<std::int64_t>(b.b) : b.i;
    return ai < bi;
  }
  if (a.is_string() && b.is_string()) return a.s < b.s;  // UTF-8 byte order = code point order
  if (a.is_list() && b.is_list()) {
    std::size_t n = std::min(a.list->size(), b.list->size());
    for (std::size_t k = 0; k < n; ++k) {
      if (equals((*a.list)[k], (*b.list)[k])) continue;
      return less_than(r, (*a.list)[k], (*b.list)[k], line, op);
    }
    return a.list->size() < b.list->size();
  }
  if (a.is_undefined() || b.is_undefined())
    r.fail(line, whale::str_cat("UndefinedError: ", a.is_undefined() ? a.s : b.s));
  r.fail(line, whale::str_cat("TypeError: '", op, "' not supported between instances of '", type_name(a), "' and '", type_name(b), "'"));
}

}  // namespace whale::chat::jinja
