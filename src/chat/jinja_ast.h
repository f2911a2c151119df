// Parse tree of a Jinja template (produced by jinja_parser.cpp, run by jinja_renderer.cpp).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace whale::chat::jinja {

struct Expr;
using ExprP = std::shared_ptr<const Expr>;

struct Expr {
  enum class K {
    Literal,   // literal
    Name,      // name
    Attr,      // args[0].name
    Item,      // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (null = omitted)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // name(args[0], args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..]); negated
    Neg,       // -args[0]
    Pos,       // +args[0]
    Not,       // not args[0]
    And,       // args[0] and args[1]
    Or,        // args[0] or args[1]
    Binary,    // args[0] name args[1] for + - * / // % ** ~
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ... (ops: == != < > <= >= in notin)
    Cond,      // args[0] if args[1] else args[2] (args[2] may be null)
    List,      // [args...]
    Tuple,     // (args...)
    Dict,      // {args[0]: args[1], ...}
  };
  K k = K::Literal;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprP> args;
  std::vector<std::pair<std::string, ExprP>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Stmt;
using StmtP = std::shared_ptr<const Stmt>;
using Body = std::vector<StmtP>;

struct MacroParam {
  std::string name;
  ExprP default_value;  // null = required
};

struct Stmt {
  enum class K { Text, Output, If, For, Set, SetAttr, SetBlock, Macro, Break, Continue, FilterBlock };
  K k = K::Text;
  int line = 0;
  std::string text;                 // Text: the text; SetAttr: attribute; Macro: name
  ExprP expr;                       // Output value; For iterable; Set value; SetAttr value
  std::vector<std::string> targets; // For / Set / SetAttr(object name) / SetBlock target names
  // If: conds[i] guards bodies[i]; bodies.back() is the else body when it has one more entry.
  std::vector<ExprP> conds;
  std::vector<Body> bodies;
  ExprP filter;                     // For: `if` condition; FilterBlock/SetBlock: the filter (as a Filter
                                    // expr whose args[0] is null, standing for the body text)
  Body body;                        // For / SetBlock / Macro / FilterBlock
  Body else_body;                   // For
  std::vector<MacroParam> params;   // Macro
};

struct TemplateNode {
  Body body;
};

// Parses template source (jinja_parser.cpp). Throws TemplateSyntaxError/UnsupportedTemplateError.
std::shared_ptr<const TemplateNode> parse_template(const std::string& source);

}  // namespace whale::chat::jinja
