// The value model of the Jinja interpreter: Python-like dynamic values (jinja.h). Lists, dicts
// and namespaces are shared by reference like Python objects; strings are UTF-8 byte strings
// whose length/indexing/slicing count code points, as Python's str does.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace whale::chat::jinja {

struct Value;
class Renderer;

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  int line = 0;
};

using NativeFn = std::function<Value(Renderer&, CallArgs&)>;

// Insertion-ordered string-keyed map (Python dict with str keys).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  std::unordered_map<std::string, std::size_t> index;

  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

  Kind kind = Kind::Undefined;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string s;  // String: the text; Undefined: the name that was missing (for messages)
  std::shared_ptr<std::vector<Value>> list;
  std::shared_ptr<Dict> dict;  // Dict and Namespace
  std::shared_ptr<NativeFn> fn;
  bool is_tuple = false;  // List created from a tuple literal (only affects repr)

  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool v);
  static Value integer(std::int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value make_list(std::vector<Value> v = {});
  static Value make_dict();
  static Value make_namespace();
  static Value callable(NativeFn fn);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_list() const { return kind == Kind::List; }
  bool is_mapping() const { return kind == Kind::Dict || kind == Kind::Namespace; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }

  bool truthy() const;
  double as_double() const;  // numbers only
};

// Python type name ("str", "NoneType", "Undefined", ...) for error messages.
std::string type_name(const Value& v);

// Python str() of a value, as {{ }} prints it (None -> "None", undefined -> "").
std::string to_str(const Value& v);
// Python repr().
std::string to_repr(const Value& v);
// Python float repr ("1.0", "0.1", "1e+16", "inf").
std::string float_repr(double d);

// Python json.dumps(v, ensure_ascii=False, indent, sort_keys); separators as Python's defaults.
// Throws TemplateRenderError for values JSON cannot hold (undefined, callables).
std::string to_json(const Value& v, int indent = -1, bool sort_keys = false);

// Throws TemplateRenderError for input nested deeper than kMaxNesting.
Value from_json(const nlohmann::ordered_json& j);

// Containers nested deeper than this are refused (input and stored variables), which keeps
// every recursive walk, and the destruction of a value, well inside the stack.
constexpr int kMaxNesting = 512;
// True when `v` holds containers nested more than `limit` levels deep.
bool nesting_exceeds(const Value& v, int limit = kMaxNesting);

// Python == (1 == 1.0 == True; lists and dicts element-wise; undefined == undefined).
bool equals(const Value& a, const Value& b);

// UTF-8 helpers: code point count, and the byte offsets of each code point start.
std::size_t utf8_length(const std::string& s);
std::vector<std::size_t> utf8_offsets(const std::string& s);

}  // namespace whale::chat::jinja
