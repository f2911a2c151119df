// Statement execution and expression evaluation with Jinja2/Python semantics.
#include "chat/jinja_renderer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace whale::chat::jinja {

namespace {

[[noreturn]] void undefined_error(const Renderer& r, const Value& v, int line) {
  r.fail(line, whale::str_cat("UndefinedError: ", v.s.empty() ? std::string("value is undefined") : v.s));
}

bool add_overflows(std::int64_t a, std::int64_t b, std::int64_t* out) { return __builtin_add_overflow(a, b, out); }
bool sub_overflows(std::int64_t a, std::int64_t b, std::int64_t* out) { return __builtin_sub_overflow(a, b, out); }
bool mul_overflows(std::int64_t a, std::int64_t b, std::int64_t* out) { return __builtin_mul_overflow(a, b, out); }

std::int64_t as_int(const Value& v) { return v.kind == Value::Kind::Bool ? (v.b ? 1 : 0) : v.i; }
bool is_intlike(const Value& v) { return v.kind == Value::Kind::Int || v.kind == Value::Kind::Bool; }

std::int64_t floordiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Minimal printf-style formatting for `str % args` (%s %d %i %r %f %%).
std::string percent_format(Renderer& r, const std::string& fmt, const Value& args, int line) {
  std::vector<Value> vals;
  if (args.is_list() && args.is_tuple) vals = *args.list;
  else vals.push_back(args);
  std::string out;
  std::size_t next = 0;
  for (std::size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out += fmt[k];
      continue;
    }
    if (++k >= fmt.size()) r.fail(line, "ValueError: incomplete format");
    char c = fmt[k];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (next >= vals.size()) r.fail(line, "TypeError: not enough arguments for format string");
    const Value& v = vals[next++];
    switch (c) {
      case 's': out += to_str(v); break;
      case 'r': out += to_repr(v); break;
      case 'd':
      case 'i':
        if (!v.is_number()) r.fail(line, whale::str_cat("TypeError: %d format: a number is required, not ", type_name(v)));
        out += std::to_string(v.kind == Value::Kind::Float ? static_cast<std::int64_t>(v.f) : as_int(v));
        break;
      case 'f': {
        if (!v.is_number()) r.fail(line, whale::str_cat("TypeError: must be real number, not ", type_name(v)));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%f", v.as_double());
        out += buf;
        break;
      }
      default: throw UnsupportedTemplateError(whale::str_cat("format conversion '%", c, "'"), line);
    }
    r.check_size(out.size(), line);
  }
  if (next < vals.size()) r.fail(line, "TypeError: not all arguments converted during string formatting");
  return out;
}

Value repeat(Renderer& r, const Value& seq, std::int64_t n, int line) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    r.check_size(seq.s.size() * static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 30)), line);
    std::string out;
    for (std::int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(std::move(out));
  }
  r.check_size(seq.list->size() * static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 30)) * 8, line);
  Value out = Value::make_list();
  for (std::int64_t k = 0; k < n; ++k) out.list->insert(out.list->end(), seq.list->begin(), seq.list->end());
  return out;
}

}  // namespace

Renderer::Renderer(const RenderLimits& limits, std::shared_ptr<Dict> globals) : limits_(limits) {
  auto root = std::make_shared<Frame>();
  for (auto& [k, v] : globals->items) (*root)[k] = v;
  frames_.push_back(root);
}

void Renderer::fail(int line, const std::string& msg) const {
  throw TemplateRenderError(whale::str_cat("template error at line ", line, ": ", msg));
}

void Renderer::check_size(std::size_t bytes, int line) const {
  if (bytes > limits_.max_output_bytes)
    fail(line, whale::str_cat("output larger than the limit of ", limits_.max_output_bytes, " bytes"));
}

void Renderer::count_iteration(int line) {
  if (++iterations_ > limits_.max_loop_iterations)
    fail(line, whale::str_cat("more than ", limits_.max_loop_iterations, " loop iterations"));
}

std::string Renderer::run(const Body& body) {
  std::string out;
  exec(body, out);
  return out;
}

Value Renderer::lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    auto f = (*it)->find(name);
    if (f != (*it)->end()) return f->second;
  }
  return Value::undefined(whale::str_cat("'", name, "' is undefined"));
}

Renderer::Flow Renderer::exec(const Body& body, std::string& out) {
  for (const StmtP& sp : body) {
    const Stmt& s = *sp;
    switch (s.k) {
      case Stmt::K::Text:
        out += s.text;
        check_size(out.size(), s.line);
        break;
      case Stmt::K::Output: {
        Value v = eval(*s.expr);
        out += to_str(v);
        check_size(out.size(), s.line);
        break;
      }
      case Stmt::K::If: {
        std::size_t k = 0;
        for (; k < s.conds.size(); ++k)
          if (eval(*s.conds[k]).truthy()) break;
        if (k < s.bodies.size()) {
          Flow f = exec(s.bodies[k], out);
          if (f != Flow::Normal) return f;
        }
        break;
      }
      case Stmt::K::For: {
        Flow f = exec_for(s, out);
        if (f != Flow::Normal) return f;
        break;
      }
      case Stmt::K::Set:
        if (s.targets.empty()) {
          eval(*s.expr);  // {% do %}
        } else {
          assign(s.targets, eval(*s.expr), s.line);
        }
        break;
      case Stmt::K::SetAttr: {
        Value obj = lookup(s.targets[0]);
        if (obj.kind != Value::Kind::Namespace)
          fail(s.line, whale::str_cat("cannot assign attribute on non-namespace object '", s.targets[0], "'"));
        Value v = eval(*s.expr);
        if (nesting_exceeds(v)) fail(s.line, whale::str_cat("value nested deeper than ", kMaxNesting, " levels"));
        obj.dict->set(s.text, std::move(v));
        break;
      }
      case Stmt::K::SetBlock: {
        std::string text;
        exec(s.body, text);
        Value v = Value::string(std::move(text));
        if (s.filter) v = eval_filter(*s.filter, &v);
        assign(s.targets, v, s.line);
        break;
      }
      case Stmt::K::FilterBlock: {
        std::string text;
        Flow f = exec(s.body, text);
        Value v = Value::string(std::move(text));
        if (s.filter) v = eval_filter(*s.filter, &v);
        out += to_str(v);
        check_size(out.size(), s.line);
        if (f != Flow::Normal) return f;
        break;
      }
      case Stmt::K::Macro: {
        StmtP keep = sp;
        frames_.back()->insert_or_assign(
            s.text, Value::callable([keep](Renderer& r, CallArgs& a) { return r.call_macro(*keep, a); }));
        break;
      }
      case Stmt::K::Break: return Flow::Break;
      case Stmt::K::Continue: return Flow::Continue;
    }
  }
  return Flow::Normal;
}

void Renderer::assign(const std::vector<std::string>& targets, const Value& v, int line) {
  // Stored values are the only way nesting can grow without bound (a loop re-wrapping a
  // variable), so depth is checked here.
  if (nesting_exceeds(v)) fail(line, whale::str_cat("value nested deeper than ", kMaxNesting, " levels"));
  Frame& f = *frames_.back();
  if (targets.size() == 1) {
    f[targets[0]] = v;
    return;
  }
  std::vector<Value> items = iterate(*this, v, line);
  if (items.size() != targets.size())
    fail(line, whale::str_cat("ValueError: cannot unpack ", items.size(), " values into ", targets.size(), " names"));
  for (std::size_t k = 0; k < targets.size(); ++k) f[targets[k]] = items[k];
}

Renderer::Flow Renderer::exec_for(const Stmt& s, std::string& out) {
  Value seq = eval(*s.expr);
  if (seq.is_none()) fail(s.line, "TypeError: 'NoneType' object is not iterable");
  std::vector<Value> items = iterate(*this, seq, s.line);
  if (s.filter) {
    // The `if` clause filters before the loop, so loop.length counts what remains.
    std::vector<Value> kept;
    for (const Value& it : items) {
      count_iteration(s.line);
      frames_.push_back(std::make_shared<Frame>());
      assign(s.targets, it, s.line);
      bool keep = eval(*s.filter).truthy();
      frames_.pop_back();
      if (keep) kept.push_back(it);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    if (!s.else_body.empty()) return exec(s.else_body, out);
    return Flow::Normal;
  }
  const auto n = static_cast<std::int64_t>(items.size());
  for (std::int64_t k = 0; k < n; ++k) {
    count_iteration(s.line);
    auto frame = std::make_shared<Frame>();
    frames_.push_back(frame);
    assign(s.targets, items[static_cast<std::size_t>(k)], s.line);
    Value loop = Value::make_dict();
    Dict& d = *loop.dict;
    d.set("index", Value::integer(k + 1));
    d.set("index0", Value::integer(k));
    d.set("revindex", Value::integer(n - k));
    d.set("revindex0", Value::integer(n - k - 1));
    d.set("first", Value::boolean(k == 0));
    d.set("last", Value::boolean(k == n - 1));
    d.set("length", Value::integer(n));
    d.set("depth", Value::integer(1));
    d.set("depth0", Value::integer(0));
    d.set("previtem", k > 0 ? items[static_cast<std::size_t>(k - 1)] : Value::undefined("'previtem' is undefined"));
    d.set("nextitem", k + 1 < n ? items[static_cast<std::size_t>(k + 1)] : Value::undefined("'nextitem' is undefined"));
    d.set("cycle", Value::callable([k](Renderer& r, CallArgs& a) -> Value {
      if (a.pos.empty()) r.fail(a.line, "TypeError: no items for cycling given");
      return a.pos[static_cast<std::size_t>(k) % a.pos.size()];
    }));
    (*frame)["loop"] = loop;
    Flow f = exec(s.body, out);
    frames_.pop_back();
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Renderer::call_macro(const Stmt& m, CallArgs& a) {
  if (++call_depth_ > limits_.max_call_depth)
    fail(m.line, whale::str_cat("macro '", m.text, "' nested deeper than ", limits_.max_call_depth, " calls"));
  auto frame = std::make_shared<Frame>();
  if (a.pos.size() > m.params.size()) fail(a.line, whale::str_cat("macro '", m.text, "' takes ", m.params.size(), " arguments"));
  std::vector<std::shared_ptr<Frame>> saved = {frames_[0], frame};
  std::swap(saved, frames_);
  for (std::size_t k = 0; k < m.params.size(); ++k) {
    const MacroParam& p = m.params[k];
    if (k < a.pos.size()) {
      (*frame)[p.name] = a.pos[k];
      continue;
    }
    bool found = false;
    for (auto& [key, v] : a.kw)
      if (key == p.name) {
        (*frame)[p.name] = v;
        found = true;
      }
    if (!found) (*frame)[p.name] = p.default_value ? eval(*p.default_value) : Value::undefined(whale::str_cat("'", p.name, "' is undefined"));
  }
  std::string out;
  try {
    exec(m.body, out);
  } catch (...) {
    std::swap(saved, frames_);
    --call_depth_;
    throw;
  }
  std::swap(saved, frames_);
  --call_depth_;
  return Value::string(std::move(out));
}

Value Renderer::call(const Value& fn, CallArgs& args, int line, const std::string& what) {
  if (fn.is_undefined()) undefined_error(*this, fn, line);
  if (fn.kind != Value::Kind::Callable) fail(line, whale::str_cat("TypeError: '", type_name(fn), "' object is not callable (", what, ")"));
  args.line = line;
  return (*fn.fn)(*this, args);
}

CallArgs Renderer::eval_args(const Expr& e, std::size_t first) {
  CallArgs a;
  a.line = e.line;
  for (std::size_t k = first; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k]));
  for (const auto& [key, x] : e.kwargs) a.kw.emplace_back(key, eval(*x));
  return a;
}

Value Renderer::eval_filter(const Expr& e, const Value* input) {
  Value in = e.args[0] ? eval(*e.args[0]) : (input ? *input : Value::undefined());
  CallArgs a = eval_args(e, 1);
  return apply_filter(*this, e.name, std::move(in), a, e.line);
}

Value Renderer::eval(const Expr& e) {
  switch (e.k) {
    case Expr::K::Literal: return e.literal;
    case Expr::K::Name: return lookup(e.name);
    case Expr::K::Attr: {
      Value obj = eval(*e.args[0]);
      if (obj.is_undefined()) undefined_error(*this, obj, e.line);
      return get_attr(*this, obj, e.name, e.line);
    }
    case Expr::K::Item: {
      Value obj = eval(*e.args[0]);
      if (obj.is_undefined()) undefined_error(*this, obj, e.line);
      return get_item(*this, obj, eval(*e.args[1]), e.line);
    }
    case Expr::K::Slice: {
      Value obj = eval(*e.args[0]);
      if (obj.is_undefined()) undefined_error(*this, obj, e.line);
      auto part = [&](std::size_t k, bool* given) -> std::int64_t {
        *given = false;
        if (!e.args[k]) return 0;
        Value v = eval(*e.args[k]);
        if (v.is_none()) return 0;
        if (!is_intlike(v)) fail(e.line, "TypeError: slice indices must be integers or None");
        *given = true;
        return as_int(v);
      };
      bool has_start, has_stop, has_step;
      std::int64_t start = part(1, &has_start), stop = part(2, &has_stop), step = part(3, &has_step);
      if (!has_step) step = 1;
      if (step == 0) fail(e.line, "ValueError: slice step cannot be zero");
      std::vector<std::size_t> offs;
      std::int64_t n;
      if (obj.is_string()) {
        offs = utf8_offsets(obj.s);
        n = static_cast<std::int64_t>(offs.size());
      } else if (obj.is_list()) {
        n = static_cast<std::int64_t>(obj.list->size());
      } else {
        fail(e.line, whale::str_cat("TypeError: '", type_name(obj), "' object is not subscriptable"));
      }
      auto clamp = [&](std::int64_t v, bool given, std::int64_t dflt) {
        if (!given) return dflt;
        if (v < 0) v += n;
        if (step > 0) return std::clamp<std::int64_t>(v, 0, n);
        return std::clamp<std::int64_t>(v, -1, n - 1);
      };
      std::int64_t b = clamp(start, has_start, step > 0 ? 0 : n - 1);
      std::int64_t en = clamp(stop, has_stop, step > 0 ? n : -1);
      std::vector<std::int64_t> idx;
      for (std::int64_t k = b; step > 0 ? k < en : k > en; k += step) idx.push_back(k);
      if (obj.is_string()) {
        std::string out;
        for (auto k : idx) {
          std::size_t s0 = offs[static_cast<std::size_t>(k)];
          std::size_t s1 = static_cast<std::size_t>(k) + 1 < offs.size() ? offs[static_cast<std::size_t>(k) + 1] : obj.s.size();
          out.append(obj.s, s0, s1 - s0);
        }
        return Value::string(std::move(out));
      }
      Value out = Value::make_list();
      for (auto k : idx) out.list->push_back((*obj.list)[static_cast<std::size_t>(k)]);
      return out;
    }
    case Expr::K::Call: {
      const Expr& callee = *e.args[0];
      Value fn = eval(callee);
      CallArgs a = eval_args(e, 1);
      std::string what = callee.k == Expr::K::Name || callee.k == Expr::K::Attr ? callee.name : "expression";
      return call(fn, a, e.line, what);
    }
    case Expr::K::Filter: return eval_filter(e, nullptr);
    case Expr::K::Test: {
      Value v = eval(*e.args[0]);
      CallArgs a = eval_args(e, 1);
      bool r = apply_test(*this, e.name, v, a, e.line);
      return Value::boolean(e.negated ? !r : r);
    }
    case Expr::K::Neg:
    case Expr::K::Pos: {
      Value v = eval(*e.args[0]);
      if (v.is_undefined()) undefined_error(*this, v, e.line);
      if (!v.is_number()) fail(e.line, whale::str_cat("TypeError: bad operand type for unary ", e.k == Expr::K::Neg ? "-" : "+", ": '", type_name(v), "'"));
      if (e.k == Expr::K::Pos) return v.kind == Value::Kind::Bool ? Value::integer(as_int(v)) : v;
      if (v.kind == Value::Kind::Float) return Value::number(-v.f);
      if (as_int(v) == std::numeric_limits<std::int64_t>::min()) fail(e.line, "integer overflow");
      return Value::integer(-as_int(v));
    }
    case Expr::K::Not: return Value::boolean(!eval(*e.args[0]).truthy());
    case Expr::K::And: {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    case Expr::K::Or: {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    case Expr::K::Binary: return eval_binary(e);
    case Expr::K::Compare: return eval_compare(e);
    case Expr::K::Cond:
      if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
      return e.args[2] ? eval(*e.args[2]) : Value::undefined("conditional expression had no else branch");
    case Expr::K::List:
    case Expr::K::Tuple: {
      Value out = Value::make_list();
      out.is_tuple = e.k == Expr::K::Tuple;
      for (const auto& x : e.args) out.list->push_back(eval(*x));
      return out;
    }
    case Expr::K::Dict: {
      Value out = Value::make_dict();
      for (std::size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k]);
        if (!key.is_string()) throw UnsupportedTemplateError(whale::str_cat("dict key of type ", type_name(key)), e.line);
        out.dict->set(key.s, eval(*e.args[k + 1]));
      }
      return out;
    }
  }
  fail(e.line, "unknown expression");
}

Value Renderer::eval_binary(const Expr& e) {
  Value a = eval(*e.args[0]);
  Value b = eval(*e.args[1]);
  const std::string& op = e.name;
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    check_size(s.size(), e.line);
    return Value::string(std::move(s));
  }
  if (a.is_undefined()) undefined_error(*this, a, e.line);
  if (b.is_undefined()) undefined_error(*this, b, e.line);
  auto type_error = [&]() -> Value {
    fail(e.line, whale::str_cat("TypeError: unsupported operand type(s) for ", op, ": '", type_name(a), "' and '", type_name(b), "'"));
  };
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_size(a.s.size() + b.s.size(), e.line);
      return Value::string(a.s + b.s);
    }
    if (a.is_string()) fail(e.line, whale::str_cat("TypeError: can only concatenate str (not \"", type_name(b), "\") to str"));
    if (a.is_list() && b.is_list()) {
      check_size((a.list->size() + b.list->size()) * 8, e.line);
      Value out = Value::make_list(*a.list);
      out.list->insert(out.list->end(), b.list->begin(), b.list->end());
      return out;
    }
  }
  if (op == "%" && a.is_string()) {
    Value s = Value::string(percent_format(*this, a.s, b, e.line));
    return s;
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && is_intlike(b)) return repeat(*this, a, as_int(b), e.line);
    if ((b.is_string() || b.is_list()) && is_intlike(a)) return repeat(*this, b, as_int(a), e.line);
  }
  if (!a.is_number() || !b.is_number()) return type_error();
  bool ints = is_intlike(a) && is_intlike(b);
  if (ints) {
    std::int64_t x = as_int(a), y = as_int(b), r = 0;
    if (op == "+") {
      if (add_overflows(x, y, &r)) fail(e.line, "integer overflow");
      return Value::integer(r);
    }
    if (op == "-") {
      if (sub_overflows(x, y, &r)) fail(e.line, "integer overflow");
      return Value::integer(r);
    }
    if (op == "*") {
      if (mul_overflows(x, y, &r)) fail(e.line, "integer overflow");
      return Value::integer(r);
    }
    if (op == "//" || op == "%") {
      if (y == 0) fail(e.line, "ZeroDivisionError: integer division or modulo by zero");
      if (x == std::numeric_limits<std::int64_t>::min() && y == -1) fail(e.line, "integer overflow");
      std::int64_t q = floordiv(x, y);
      return Value::integer(op == "//" ? q : x - q * y);
    }
    if (op == "**" && y >= 0) {
      std::int64_t acc = 1;
      for (std::int64_t k = 0; k < y; ++k) {
        if (mul_overflows(acc, x, &acc)) fail(e.line, "integer overflow");
        if (acc == 0 || acc == 1) break;
      }
      return Value::integer(acc);
    }
  }
  double x = a.as_double(), y = b.as_double();
  if (op == "+") return Value::number(x + y);
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (op == "/") {
    if (y == 0) fail(e.line, "ZeroDivisionError: division by zero");
    return Value::number(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) fail(e.line, "ZeroDivisionError: float divmod()");
    double q = std::floor(x / y);
    return Value::number(op == "//" ? q : x - q * y);
  }
  if (op == "**") return Value::number(std::pow(x, y));
  return type_error();
}

Value Renderer::eval_compare(const Expr& e) {
  Value left = eval(*e.args[0]);
  for (std::size_t k = 0; k < e.ops.size(); ++k) {
    Value right = eval(*e.args[k + 1]);
    const std::string& op = e.ops[k];
    bool r;
    if (op == "==") r = equals(left, right);
    else if (op == "!=") r = !equals(left, right);
    else if (op == "<") r = less_than(*this, left, right, e.line, "<");
    else if (op == ">") r = less_than(*this, right, left, e.line, ">");
    else if (op == "<=") r = !less_than(*this, right, left, e.line, "<=");
    else if (op == ">=") r = !less_than(*this, left, right, e.line, ">=");
    else {
      CallArgs a;
      a.pos.push_back(right);
      r = apply_test(*this, "in", left, a, e.line);
      if (op == "notin") r = !r;
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

}  // namespace whale::chat::jinja
