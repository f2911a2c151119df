// The Jinja interpreter: evaluates a parsed template against a context (jinja.h for the
// contract). Internal to the chat layer; jinja_builtins.cpp supplies filters, tests, methods.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace whale::chat::jinja {

class Renderer {
 public:
  Renderer(const RenderLimits& limits, std::shared_ptr<Dict> globals);

  std::string run(const Body& body);

  Value eval(const Expr& e);
  Value call(const Value& fn, CallArgs& args, int line, const std::string& what);
  Value call_macro(const Stmt& macro, CallArgs& args);

  [[noreturn]] void fail(int line, const std::string& msg) const;
  // Throws when a produced string would pass the output limit.
  void check_size(std::size_t bytes, int line) const;
  void count_iteration(int line);
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };
  using Frame = std::unordered_map<std::string, Value>;

  Flow exec(const Body& body, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  void exec_set(const Stmt& s);
  void assign(const std::vector<std::string>& targets, const Value& v, int line);
  Value lookup(const std::string& name) const;
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  Value eval_filter(const Expr& e, const Value* input);
  CallArgs eval_args(const Expr& e, std::size_t first);

  const RenderLimits& limits_;
  std::vector<std::shared_ptr<Frame>> frames_;  // [0]: globals + context + top-level sets
  std::uint64_t iterations_ = 0;
  int call_depth_ = 0;
};

// ---- jinja_builtins.cpp ----
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);
Value apply_filter(Renderer& r, const std::string& name, Value input, CallArgs& args, int line);
bool apply_test(Renderer& r, const std::string& name, const Value& v, CallArgs& args, int line);
// obj.name: methods of str/dict/list first (Python getattr), then dict items.
Value get_attr(Renderer& r, const Value& obj, const std::string& name, int line);
// obj[key]; missing -> undefined.
Value get_item(Renderer& r, const Value& obj, const Value& key, int line);
// Python iteration (list items, dict keys, string characters); undefined iterates nothing.
std::vector<Value> iterate(Renderer& r, const Value& v, int line);
// range, namespace, raise_exception, dict, strftime_now.
void install_globals(Dict& globals);
// Python ordering (<) for numbers, strings and lists; TypeError otherwise.
bool less_than(Renderer& r, const Value& a, const Value& b, int line, const char* op);

}  // namespace whale::chat::jinja
