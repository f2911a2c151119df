// Jinja2 builtin tests (`x is defined`...) and the globals that transformers adds
// (raise_exception, strftime_now) besides range/namespace/dict, with Python semantics.
#include <chrono>
#include <ctime>

#include "chat/jinja_renderer.h"
#include "chat/jinja_strings.h"

namespace whale::chat::jinja {
namespace {

// ---- tests ----
using Test = bool (*)(Renderer&, const Value&, CallArgs&);
const Value& need_arg(Renderer& r, CallArgs& a, const char* test) {
  if (a.pos.empty()) r.fail(a.line, whale::str_cat("test '", test, "' needs an argument"));
  return a.pos[0];
}
bool t_defined(Renderer&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Renderer&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Renderer&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Bool; }
bool t_true(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Bool && v.b; }
bool t_false(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Bool && !v.b; }
bool t_integer(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Int; }
bool t_float(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Float; }
bool t_number(Renderer&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Renderer&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Dict; }
bool t_iterable(Renderer&, const Value& v, CallArgs&) { return v.is_string() || v.is_list() || v.is_mapping() || v.is_undefined(); }
bool t_sequence(Renderer&, const Value& v, CallArgs&) { return v.is_string() || v.is_list() || v.kind == Value::Kind::Dict; }
bool t_callable(Renderer&, const Value& v, CallArgs&) { return v.kind == Value::Kind::Callable; }
bool t_eq(Renderer& r, const Value& v, CallArgs& a) { return equals(v, need_arg(r, a, "eq")); }
bool t_ne(Renderer& r, const Value& v, CallArgs& a) { return !equals(v, need_arg(r, a, "ne")); }
bool t_lt(Renderer& r, const Value& v, CallArgs& a) { return less_than(r, v, need_arg(r, a, "lt"), a.line, "<"); }
bool t_gt(Renderer& r, const Value& v, CallArgs& a) { return less_than(r, need_arg(r, a, "gt"), v, a.line, ">"); }
bool t_le(Renderer& r, const Value& v, CallArgs& a) { return !less_than(r, need_arg(r, a, "le"), v, a.line, "<="); }
bool t_ge(Renderer& r, const Value& v, CallArgs& a) { return !less_than(r, v, need_arg(r, a, "ge"), a.line, ">="); }
bool t_sameas(Renderer& r, const Value& v, CallArgs& a) {
  const Value& o = need_arg(r, a, "sameas");
  if (v.kind != o.kind) return false;
  if (v.is_list()) return v.list == o.list;
  if (v.is_mapping()) return v.dict == o.dict;
  return equals(v, o);
}
bool t_in(Renderer& r, const Value& v, CallArgs& a) {
  const Value& c = need_arg(r, a, "in");
  switch (c.kind) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!v.is_string()) r.fail(a.line, whale::str_cat("TypeError: 'in <string>' requires string as left operand, not ", type_name(v)));
      return c.s.find(v.s) != std::string::npos;
    case Value::Kind::List:
      for (const Value& x : *c.list)
        if (equals(x, v)) return true;
      return false;
    case Value::Kind::Dict:
    case Value::Kind::Namespace: return v.is_string() && c.dict->find(v.s) != nullptr;
    default: r.fail(a.line, whale::str_cat("TypeError: argument of type '", type_name(c), "' is not iterable"));
  }
}
bool t_odd(Renderer& r, const Value& v, CallArgs& a) {
  if (v.kind != Value::Kind::Int) r.fail(a.line, "test 'odd' needs an integer");
  return v.i % 2 != 0;
}
bool t_even(Renderer& r, const Value& v, CallArgs& a) {
  if (v.kind != Value::Kind::Int) r.fail(a.line, "test 'even' needs an integer");
  return v.i % 2 == 0;
}
bool t_divisibleby(Renderer& r, const Value& v, CallArgs& a) {
  const Value& d = need_arg(r, a, "divisibleby");
  if (v.kind != Value::Kind::Int || d.kind != Value::Kind::Int) r.fail(a.line, "test 'divisibleby' needs integers");
  if (d.i == 0) r.fail(a.line, "ZeroDivisionError: integer division or modulo by zero");
  if (d.i == -1) return true;
  return v.i % d.i == 0;
}
bool t_lower(Renderer&, const Value& v, CallArgs&) { return v.is_string() && ascii_lower(v.s) == v.s; }
bool t_upper(Renderer&, const Value& v, CallArgs&) { return v.is_string() && ascii_upper(v.s) == v.s; }
bool t_escaped(Renderer&, const Value&, CallArgs&) { return false; }
bool t_filter(Renderer& r, const Value& v, CallArgs&) { return v.is_string() && is_known_filter(v.s); }
bool t_test(Renderer& r, const Value& v, CallArgs&) { return v.is_string() && is_known_test(v.s); }

Test find_test(const std::string& n) {
  static const std::pair<const char*, Test> table[] = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none},         {"boolean", t_boolean},
      {"true", t_true},       {"false", t_false},         {"integer", t_integer},   {"float", t_float},
      {"number", t_number},   {"string", t_string},       {"mapping", t_mapping},   {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"equalto", t_eq},        {"eq", t_eq},
      {"==", t_eq},           {"ne", t_ne},               {"!=", t_ne},             {"lt", t_lt},
      {"lessthan", t_lt},     {"<", t_lt},                {"gt", t_gt},             {"greaterthan", t_gt},
      {">", t_gt},            {"le", t_le},               {"<=", t_le},             {"ge", t_ge},
      {">=", t_ge},           {"sameas", t_sameas},       {"in", t_in},             {"odd", t_odd},
      {"even", t_even},       {"divisibleby", t_divisibleby}, {"lower", t_lower},   {"upper", t_upper},
      {"escaped", t_escaped}, {"filter", t_filter},       {"test", t_test},
  };
  for (const auto& [name, fn] : table)
    if (n == name) return fn;
  return nullptr;
}

}  // namespace

bool is_known_test(const std::string& name) { return find_test(name) != nullptr; }

bool apply_test(Renderer& r, const std::string& name, const Value& v, CallArgs& args, int line) {
  Test t = find_test(name);
  if (!t) throw UnsupportedTemplateError(whale::str_cat("test '", name, "'"), line);
  args.line = line;
  return t(r, v, args);
}

void install_globals(Dict& g) {
  g.set("raise_exception", Value::callable([](Renderer& r, CallArgs& a) -> Value {
    std::string msg = a.pos.empty() ? std::string() : to_str(a.pos[0]);
    throw TemplateRenderError(whale::str_cat("TemplateError: ", msg));
  }));
  g.set("namespace", Value::callable([](Renderer& r, CallArgs& a) -> Value {
    Value ns = Value::make_namespace();
    for (const Value& p : a.pos) {
      if (!p.is_mapping()) r.fail(a.line, "namespace() positional argument must be a dict");
      for (const auto& [k, v] : p.dict->items) ns.dict->set(k, v);
    }
    for (const auto& [k, v] : a.kw) ns.dict->set(k, v);
    return ns;
  }));
  g.set("dict", Value::callable([](Renderer& r, CallArgs& a) -> Value {
    Value d = Value::make_dict();
    for (const Value& p : a.pos) {
      if (!p.is_mapping()) r.fail(a.line, "dict() positional argument must be a dict");
      for (const auto& [k, v] : p.dict->items) d.dict->set(k, v);
    }
    for (const auto& [k, v] : a.kw) d.dict->set(k, v);
    return d;
  }));
  g.set("range", Value::callable([](Renderer& r, CallArgs& a) -> Value {
    std::int64_t start = 0, stop = 0, step = 1;
    auto num = [&](std::size_t k) {
      if (a.pos[k].kind != Value::Kind::Int) r.fail(a.line, "TypeError: range() arguments must be integers");
      return a.pos[k].i;
    };
    if (a.pos.size() == 1) {
      stop = num(0);
    } else if (a.pos.size() == 2 || a.pos.size() == 3) {
      start = num(0);
      stop = num(1);
      if (a.pos.size() == 3) step = num(2);
    } else {
      r.fail(a.line, "TypeError: range expected 1 to 3 arguments");
    }
    if (step == 0) r.fail(a.line, "ValueError: range() arg 3 must not be zero");
    Value out = Value::make_list();
    for (std::int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
      if (out.list->size() >= r.limits().max_range) r.fail(a.line, whale::str_cat("range() longer than ", r.limits().max_range));
      out.list->push_back(Value::integer(k));
      if ((step > 0 && k > INT64_MAX - step) || (step < 0 && k < INT64_MIN - step)) break;
    }
    return out;
  }));
  g.set("strftime_now", Value::callable([](Renderer& r, CallArgs& a) -> Value {
    std::string fmt = a.pos.empty() || !a.pos[0].is_string() ? std::string("%Y-%m-%d") : a.pos[0].s;
    if (fmt.size() > 256) r.fail(a.line, "strftime_now: format too long");
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[1024];
    std::size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    return Value::string(std::string(buf, n));
  }));
}

}  // namespace whale::chat::jinja
