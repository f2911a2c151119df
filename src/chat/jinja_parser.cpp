// Recursive-descent parser for the Jinja subset, with Jinja2's operator precedence:
// ternary < or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests
// < postfix (. [] ()).
#include <cstdlib>
#include <set>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_renderer.h"

namespace whale::chat::jinja {

UnsupportedTemplateError::UnsupportedTemplateError(const std::string& construct, int line)
    : whale::Error(whale::str_cat("template uses unsupported ", construct, " at line ", line)),
      construct_(construct),
      line_(line) {}

namespace {

using T = Token::T;
constexpr int kMaxDepth = 150;  // expression / block nesting; bounds parser recursion

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  std::shared_ptr<const TemplateNode> run() {
    auto root = std::make_shared<TemplateNode>();
    std::string end = parse_body(root->body, {});
    if (!end.empty()) error(whale::str_cat("unexpected '", end, "'"));
    return root;
  }

 private:
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(std::size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().t == T::Op && cur().s == op; }
  bool is_name(const char* n) const { return cur().t == T::Name && cur().s == n; }

  [[noreturn]] void error(const std::string& what) const {
    throw TemplateSyntaxError(whale::str_cat("template syntax error at line ", cur().line, ": ", what));
  }
  [[noreturn]] void unsupported(const std::string& what) const { throw UnsupportedTemplateError(what, cur().line); }

  void expect_op(const char* op) {
    if (!is_op(op)) error(whale::str_cat("expected '", op, "', got '", describe(), "'"));
    advance();
  }
  std::string expect_name() {
    if (cur().t != T::Name) error(whale::str_cat("expected a name, got '", describe(), "'"));
    std::string s = cur().s;
    advance();
    return s;
  }
  void expect_block_end() {
    if (cur().t != T::BlockEnd) error(whale::str_cat("expected end of tag, got '", describe(), "'"));
    advance();
  }
  std::string describe() const {
    switch (cur().t) {
      case T::Eof: return "end of template";
      case T::BlockEnd: return "%}";
      case T::VarEnd: return "}}";
      case T::Text: return "text";
      default: return cur().s;
    }
  }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.error("template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // Parses statements until a block tag whose keyword is in `ends` (consumed up to the keyword;
  // returns it) or the end of input (returns "").
  std::string parse_body(Body& body, const std::set<std::string>& ends) {
    DepthGuard guard(*this);
    while (true) {
      const Token& t = cur();
      if (t.t == T::Eof) {
        if (!ends.empty()) error(whale::str_cat("unexpected end of template, expected '", *ends.begin(), "'"));
        return "";
      }
      if (t.t == T::Text) {
        auto s = std::make_shared<Stmt>();
        s->k = Stmt::K::Text;
        s->line = t.line;
        s->text = t.s;
        body.push_back(s);
        advance();
      } else if (t.t == T::VarBegin) {
        auto s = std::make_shared<Stmt>();
        s->k = Stmt::K::Output;
        s->line = t.line;
        advance();
        s->expr = parse_expr();
        if (cur().t != T::VarEnd) error(whale::str_cat("expected '}}', got '", describe(), "'"));
        advance();
        body.push_back(s);
      } else if (t.t == T::BlockBegin) {
        advance();
        if (cur().t != T::Name) error("expected a statement keyword");
        std::string kw = cur().s;
        if (ends.count(kw)) {
          advance();
          return kw;
        }
        body.push_back(parse_statement());
      } else {
        error(whale::str_cat("unexpected '", describe(), "'"));
      }
    }
  }

  StmtP parse_statement() {
    std::string kw = cur().s;
    int line = cur().line;
    advance();
    auto s = std::make_shared<Stmt>();
    s->line = line;
    if (kw == "if") {
      s->k = Stmt::K::If;
      s->conds.push_back(parse_expr());
      expect_block_end();
      while (true) {
        s->bodies.emplace_back();
        std::string end = parse_body(s->bodies.back(), {"elif", "else", "endif"});
        if (end == "elif") {
          s->conds.push_back(parse_expr());
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          s->bodies.emplace_back();
          parse_body(s->bodies.back(), {"endif"});
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (kw == "for") {
      s->k = Stmt::K::For;
      s->targets.push_back(expect_name());
      while (is_op(",")) {
        advance();
        s->targets.push_back(expect_name());
      }
      if (!is_name("in")) error("expected 'in' in for loop");
      advance();
      s->expr = parse_ternary_noif();
      if (is_name("if")) {
        advance();
        s->filter = parse_ternary_noif();
      }
      if (is_name("recursive")) unsupported("recursive for loop");
      expect_block_end();
      std::string end = parse_body(s->body, {"else", "endfor"});
      if (end == "else") {
        expect_block_end();
        parse_body(s->else_body, {"endfor"});
      }
      expect_block_end();
    } else if (kw == "set") {
      std::string first = expect_name();
      if (is_op(".")) {
        advance();
        s->k = Stmt::K::SetAttr;
        s->targets.push_back(first);
        s->text = expect_name();
        expect_op("=");
        s->expr = parse_tuple_or_expr();
        expect_block_end();
      } else {
        s->targets.push_back(first);
        while (is_op(",")) {
          advance();
          s->targets.push_back(expect_name());
        }
        if (is_op("=")) {
          advance();
          s->k = Stmt::K::Set;
          s->expr = parse_tuple_or_expr();
          expect_block_end();
        } else {
          if (s->targets.size() != 1) error("block set takes one name");
          s->k = Stmt::K::SetBlock;
          if (is_op("|")) s->filter = parse_filter_chain(nullptr);
          expect_block_end();
          parse_body(s->body, {"endset"});
          expect_block_end();
        }
      }
    } else if (kw == "macro") {
      s->k = Stmt::K::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        MacroParam p;
        p.name = expect_name();
        if (is_op("=")) {
          advance();
          p.default_value = parse_expr();
        }
        s->params.push_back(std::move(p));
        if (!is_op(",")) break;
        advance();
      }
      expect_op(")");
      expect_block_end();
      parse_body(s->body, {"endmacro"});
      if (cur().t == T::Name) advance();  // {% endmacro name %}
      expect_block_end();
    } else if (kw == "break" || kw == "continue") {
      s->k = kw == "break" ? Stmt::K::Break : Stmt::K::Continue;
      expect_block_end();
    } else if (kw == "filter") {
      s->k = Stmt::K::FilterBlock;
      s->filter = parse_filter_chain(nullptr, /*leading_bar=*/false);
      expect_block_end();
      parse_body(s->body, {"endfilter"});
      expect_block_end();
    } else if (kw == "generation") {
      // transformers' assistant-mask marker: renders its body unchanged.
      s->k = Stmt::K::FilterBlock;
      expect_block_end();
      parse_body(s->body, {"endgeneration"});
      expect_block_end();
    } else if (kw == "do") {
      s->k = Stmt::K::Set;  // evaluate and discard
      s->expr = parse_expr();
      expect_block_end();
    } else {
      static const std::set<std::string> stray = {"elif", "else", "endif", "endfor", "endset", "endmacro",
                                                  "endfilter", "endraw", "endgeneration", "endcall", "endblock"};
      if (stray.count(kw)) {
        --pos_;  // report at the keyword
        error(whale::str_cat("unexpected '", kw, "'"));
      }
      unsupported(whale::str_cat("statement '", kw, "'"));
    }
    return s;
  }

  // ---- expressions ----

  ExprP make(Expr::K k, int line, std::vector<ExprP> args = {}, std::string name = {}) {
    auto e = std::make_shared<Expr>();
    e->k = k;
    e->line = line;
    e->args = std::move(args);
    e->name = std::move(name);
    return e;
  }

  // `a, b` without parentheses (set values) becomes a tuple.
  ExprP parse_tuple_or_expr() {
    int line = cur().line;
    ExprP first = parse_expr();
    if (!is_op(",")) return first;
    std::vector<ExprP> items{first};
    while (is_op(",")) {
      advance();
      if (cur().t == T::BlockEnd || cur().t == T::VarEnd) break;
      items.push_back(parse_expr());
    }
    return make(Expr::K::Tuple, line, std::move(items));
  }

  ExprP parse_expr() {
    DepthGuard guard(*this);
    int line = cur().line;
    ExprP e = parse_or();
    while (is_name("if")) {
      advance();
      ExprP cond = parse_or();
      ExprP other;
      if (is_name("else")) {
        advance();
        other = parse_expr();
      }
      e = make(Expr::K::Cond, line, {e, cond, other});
    }
    return e;
  }

  // Expression without a trailing `if` (for-loop iterables and filters).
  ExprP parse_ternary_noif() { return parse_or(); }

  ExprP parse_or() {
    ExprP e = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      advance();
      e = make(Expr::K::Or, line, {e, parse_and()});
    }
    return e;
  }
  ExprP parse_and() {
    ExprP e = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      advance();
      e = make(Expr::K::And, line, {e, parse_not()});
    }
    return e;
  }
  ExprP parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      int line = cur().line;
      advance();
      return make(Expr::K::Not, line, {parse_not()});
    }
    return parse_compare();
  }
  ExprP parse_compare() {
    int line = cur().line;
    ExprP e = parse_math1();
    std::vector<ExprP> args{e};
    std::vector<std::string> ops;
    while (true) {
      if (cur().t == T::Op && (cur().s == "==" || cur().s == "!=" || cur().s == "<" || cur().s == ">" ||
                               cur().s == "<=" || cur().s == ">=")) {
        ops.push_back(cur().s);
        advance();
      } else if (is_name("in")) {
        ops.push_back("in");
        advance();
      } else if (is_name("not") && peek().t == T::Name && peek().s == "in") {
        ops.push_back("notin");
        advance();
        advance();
      } else {
        break;
      }
      args.push_back(parse_math1());
    }
    if (ops.empty()) return e;
    auto c = std::make_shared<Expr>();
    c->k = Expr::K::Compare;
    c->line = line;
    c->args = std::move(args);
    c->ops = std::move(ops);
    return c;
  }
  ExprP parse_math1() {
    ExprP e = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().s;
      int line = cur().line;
      advance();
      e = make(Expr::K::Binary, line, {e, parse_concat()}, op);
    }
    return e;
  }
  ExprP parse_concat() {
    ExprP e = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      advance();
      e = make(Expr::K::Binary, line, {e, parse_math2()}, "~");
    }
    return e;
  }
  ExprP parse_math2() {
    ExprP e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().s;
      int line = cur().line;
      advance();
      e = make(Expr::K::Binary, line, {e, parse_pow()}, op);
    }
    return e;
  }
  ExprP parse_pow() {
    ExprP e = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      advance();
      e = make(Expr::K::Binary, line, {e, parse_unary(true)}, "**");
    }
    return e;
  }
  ExprP parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    int line = cur().line;
    ExprP e;
    if (is_op("-")) {
      advance();
      e = make(Expr::K::Neg, line, {parse_unary(false)});
    } else if (is_op("+")) {
      advance();
      e = make(Expr::K::Pos, line, {parse_unary(false)});
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filter_expr(e);
    return e;
  }

  ExprP parse_primary() {
    const Token& t = cur();
    int line = t.line;
    auto lit = [&](Value v) {
      auto e = std::make_shared<Expr>();
      e->k = Expr::K::Literal;
      e->line = line;
      e->literal = std::move(v);
      return e;
    };
    switch (t.t) {
      case T::Name: {
        std::string n = t.s;
        advance();
        if (n == "true" || n == "True") return lit(Value::boolean(true));
        if (n == "false" || n == "False") return lit(Value::boolean(false));
        if (n == "none" || n == "None") return lit(Value::none());
        return make(Expr::K::Name, line, {}, n);
      }
      case T::String: {
        std::string s = t.s;
        advance();
        while (cur().t == T::String) {  // adjacent literals concatenate
          s += cur().s;
          advance();
        }
        return lit(Value::string(std::move(s)));
      }
      case T::Int: {
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(t.s.c_str(), &end, 10);
        if (errno == ERANGE) error(whale::str_cat("integer literal out of range: ", t.s));
        advance();
        return lit(Value::integer(v));
      }
      case T::Float: {
        double v = std::strtod(t.s.c_str(), nullptr);
        advance();
        return lit(Value::number(v));
      }
      case T::Op:
        if (t.s == "(") {
          advance();
          if (is_op(")")) {
            advance();
            return make(Expr::K::Tuple, line);
          }
          ExprP first = parse_expr();
          if (is_op(")")) {
            advance();
            return first;
          }
          std::vector<ExprP> items{first};
          while (is_op(",")) {
            advance();
            if (is_op(")")) break;
            items.push_back(parse_expr());
          }
          expect_op(")");
          return make(Expr::K::Tuple, line, std::move(items));
        }
        if (t.s == "[") {
          advance();
          std::vector<ExprP> items;
          while (!is_op("]")) {
            items.push_back(parse_expr());
            if (!is_op(",")) break;
            advance();
          }
          expect_op("]");
          return make(Expr::K::List, line, std::move(items));
        }
        if (t.s == "{") {
          advance();
          std::vector<ExprP> items;
          while (!is_op("}")) {
            items.push_back(parse_expr());
            expect_op(":");
            items.push_back(parse_expr());
            if (!is_op(",")) break;
            advance();
          }
          expect_op("}");
          return make(Expr::K::Dict, line, std::move(items));
        }
        break;
      default: break;
    }
    error(whale::str_cat("unexpected '", describe(), "'"));
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) unsupported("*args/**kwargs in a call");
      if (cur().t == T::Name && peek().t == T::Op && peek().s == "=") {
        std::string key = cur().s;
        advance();
        advance();
        e.kwargs.emplace_back(key, parse_expr());
      } else {
        e.args.push_back(parse_expr());
      }
      if (!is_op(",")) break;
      advance();
    }
    expect_op(")");
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      int line = cur().line;
      if (is_op(".")) {
        advance();
        if (cur().t == T::Int) {  // x.0 is x[0]
          auto idx = std::make_shared<Expr>();
          idx->k = Expr::K::Literal;
          idx->literal = Value::integer(std::strtoll(cur().s.c_str(), nullptr, 10));
          advance();
          e = make(Expr::K::Item, line, {e, idx});
        } else {
          e = make(Expr::K::Attr, line, {e}, expect_name());
        }
      } else if (is_op("[")) {
        advance();
        ExprP parts[3];
        bool slice = false;
        int part = 0;
        while (true) {
          if (is_op(":")) {
            slice = true;
            if (++part > 2) error("too many ':' in slice");
            advance();
            continue;
          }
          if (is_op("]")) break;
          if (parts[part]) error("expected ']'");
          parts[part] = parse_expr();
        }
        expect_op("]");
        if (slice) {
          e = make(Expr::K::Slice, line, {e, parts[0], parts[1], parts[2]});
        } else {
          if (!parts[0]) error("empty subscript");
          e = make(Expr::K::Item, line, {e, parts[0]});
        }
      } else if (is_op("(")) {
        auto c = std::make_shared<Expr>();
        c->k = Expr::K::Call;
        c->line = line;
        c->args.push_back(e);
        parse_call_args(*c);
        e = c;
      } else {
        return e;
      }
    }
  }

  // Filters chain onto `e`; e may be null for filter blocks (the body text is the input).
  ExprP parse_filter_chain(ExprP e, bool leading_bar = true) {
    bool first = true;
    while ((first && !leading_bar) || is_op("|")) {
      if (!(first && !leading_bar)) advance();
      first = false;
      int line = cur().line;
      std::string name = expect_name();
      // Jinja2 rejects unknown filters when compiling; so do we, so that the fallback decision
      // does not depend on which branch a conversation takes.
      if (!is_known_filter(name)) throw UnsupportedTemplateError(whale::str_cat("filter '", name, "'"), line);
      auto f = std::make_shared<Expr>();
      f->k = Expr::K::Filter;
      f->line = line;
      f->name = name;
      f->args.push_back(e);
      if (is_op("(")) parse_call_args(*f);
      e = f;
    }
    return e;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(e);
      } else if (is_name("is")) {
        int line = cur().line;
        advance();
        auto t = std::make_shared<Expr>();
        t->k = Expr::K::Test;
        t->line = line;
        if (is_name("not")) {
          t->negated = true;
          advance();
        }
        t->name = expect_name();
        if (!is_known_test(t->name)) throw UnsupportedTemplateError(whale::str_cat("test '", t->name, "'"), line);
        t->args.push_back(e);
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().t == T::Name || cur().t == T::String || cur().t == T::Int || cur().t == T::Float ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if") &&
                   !is_name("in") && !is_name("is") && !is_name("not")) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = t;
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::shared_ptr<const TemplateNode> parse_template(const std::string& source) {
  return Parser(lex_template(source)).run();
}

}  // namespace whale::chat::jinja
