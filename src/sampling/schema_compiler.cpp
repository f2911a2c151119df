// compile_schema: a strict tool schema (nlohmann JSON) into the node graph of schema_graph.h.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "sampling/schema_machine.h"
#include "util/error.h"
#include "util/hash64.h"

namespace whale::sampling {

namespace {

using ojson = nlohmann::ordered_json;
using Kind = SchemaNode::Kind;

constexpr int kMaxSchemaNesting = 128;  // of the schema document itself (stack safety)

class Compiler {
 public:
  Compiler(const ojson& root, CompiledSchema& out) : root_(root), out_(out) {}

  int32_t compile(const ojson& s, const std::string& path, int nesting) {
    if (nesting > kMaxSchemaNesting) error(path, "nested deeper than ", kMaxSchemaNesting);
    if (s.is_boolean()) {
      if (s.get<bool>()) return any();
      error(path, "the schema `false` admits no value");
    }
    if (!s.is_object()) error(path, "a schema must be an object or a boolean");
    static const std::set<std::string> kUnsupported = {
        "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties",
        "maxProperties", "patternProperties", "prefixItems", "not", "if", "then", "else",
        "contains", "dependentRequired", "dependentSchemas", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "additionalItems", "$dynamicRef"};
    for (const auto& [key, value] : s.items())
      if (kUnsupported.count(key)) error(path, "keyword `", key, "` is not supported in strict mode");

    if (auto it = s.find("$ref"); it != s.end()) return ref(*it, path, nesting);
    for (const char* key : {"anyOf", "oneOf"})
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty()) error(path, "`", key, "` must be a non-empty array");
        std::vector<int32_t> alts;
        for (size_t i = 0; i < it->size(); ++i)
          alts.push_back(compile((*it)[i], str_cat(path, ".", key, "[", i, "]"), nesting + 1));
        SchemaNode n;
        n.kind = Kind::kAnyOf;
        n.path = path;
        n.children = std::move(alts);
        return add(std::move(n));
      }
    if (auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->size() != 1)
        error(path, "`allOf` is supported with exactly one schema");
      return compile((*it)[0], path + ".allOf[0]", nesting + 1);
    }

    std::vector<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        types.push_back(it->get<std::string>());
      } else if (it->is_array() && !it->empty()) {
        for (const auto& t : *it) {
          if (!t.is_string()) error(path, "`type` entries must be strings");
          types.push_back(t.get<std::string>());
        }
      } else {
        error(path, "`type` must be a string or a non-empty array of strings");
      }
    }
    if (s.contains("enum") || s.contains("const")) return literals(s, types, path);
    if (types.empty()) {
      if (s.contains("properties") || s.contains("additionalProperties")) types = {"object"};
      else if (s.contains("items")) types = {"array"};
      else if (s.contains("pattern") || s.contains("format")) types = {"string"};
      else return any();
    }
    if (types.size() == 1) return typed(s, types[0], path, nesting);
    SchemaNode n;
    n.kind = Kind::kAnyOf;
    n.path = path;
    for (const auto& t : types) n.children.push_back(typed(s, t, path, nesting));
    return add(std::move(n));
  }

  // Checks that need the whole graph: anyOf/$ref cycles, finite documents, the depth cap.
  void finish() {
    auto& nodes = out_.nodes;
    // A cycle through anyOf edges only would let start_value recurse forever.
    std::vector<uint8_t> mark(nodes.size(), 0);
    std::function<void(int32_t)> visit = [&](int32_t id) {
      if (nodes[id].kind != Kind::kAnyOf) return;
      if (mark[id] == 1) error(nodes[id].path, "$ref/anyOf cycle that reads nothing");
      if (mark[id] == 2) return;
      mark[id] = 1;
      for (int32_t c : nodes[id].children) visit(c);
      mark[id] = 2;
    };
    for (size_t i = 0; i < nodes.size(); ++i) visit(static_cast<int32_t>(i));
    // Fewest frames per node, by fixed point (recursion converges from "unbounded").
    for (auto& n : nodes) n.min_depth = CompiledSchema::kUnbounded;
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& n : nodes) {
        int d = 1;
        if (n.kind == Kind::kObject) {
          for (int32_t c : n.children) d = std::max(d, nodes[c].min_depth + 1);
        } else if (n.kind == Kind::kAnyOf) {
          d = CompiledSchema::kUnbounded;
          for (int32_t c : n.children) d = std::min(d, nodes[c].min_depth);
        }
        d = std::min(d, CompiledSchema::kUnbounded);
        if (d < n.min_depth) {
          n.min_depth = d;
          changed = true;
        }
      }
    }
    const SchemaNode& root = nodes[out_.root];
    if (root.min_depth >= CompiledSchema::kUnbounded) {
      // Name the innermost node without a finite value (where the endless recursion is).
      int32_t at = out_.root;
      std::set<int32_t> seen;
      for (bool moved = true; moved && seen.insert(at).second;) {
        moved = false;
        for (int32_t c : nodes[at].children)
          if (nodes[c].min_depth >= CompiledSchema::kUnbounded) {
            at = c;
            moved = true;
            break;
          }
      }
      error(nodes[at].path, "admits no finite document (recursion without a way out)");
    }
    if (root.min_depth > out_.max_depth)
      error(root.path, "needs nesting ", root.min_depth, " deeper than the cap ", out_.max_depth);
  }

 private:
  template <class... A>
  [[noreturn]] void error(const std::string& path, const A&... a) const {
    fail("strict schema at ", path, ": ", a...);
  }

  int32_t add(SchemaNode n) {
    out_.nodes.push_back(std::move(n));
    return static_cast<int32_t>(out_.nodes.size()) - 1;
  }

  // Any JSON value (an empty schema): one shared sub-graph.
  int32_t any() {
    if (any_ >= 0) return any_;
    SchemaNode alt;
    alt.kind = Kind::kAnyOf;
    alt.path = "(any value)";
    any_ = add(alt);
    SchemaNode obj;
    obj.kind = Kind::kOpenObject;
    obj.path = alt.path;
    obj.children = {any_, key_string()};
    SchemaNode arr = obj;
    arr.kind = Kind::kArray;
    arr.children = {any_};
    SchemaNode str;
    str.kind = Kind::kString;
    str.path = alt.path;
    str.dfa = any_string_dfa();
    SchemaNode num;
    num.kind = Kind::kNumber;
    num.path = alt.path;
    SchemaNode lit;
    lit.kind = Kind::kLiterals;
    lit.path = alt.path;
    lit.literals = {"false", "null", "true"};
    std::vector<int32_t> kids = {add(obj), add(arr), add(str), add(num), add(lit)};
    out_.nodes[any_].children = std::move(kids);
    return any_;
  }

  // The keys of open objects: any string.
  int32_t key_string() {
    if (key_string_ < 0) {
      SchemaNode n;
      n.kind = Kind::kString;
      n.path = "(object key)";
      n.dfa = any_string_dfa();
      key_string_ = add(std::move(n));
    }
    return key_string_;
  }

  int32_t any_string_dfa() {
    if (any_dfa_ < 0) {
      out_.dfas.push_back(CodepointDfa::any_string());
      any_dfa_ = static_cast<int32_t>(out_.dfas.size()) - 1;
    }
    return any_dfa_;
  }

  int32_t ref(const ojson& r, const std::string& path, int nesting) {
    if (!r.is_string()) error(path, "`$ref` must be a string");
    const std::string target = r.get<std::string>();
    if (target.empty() || target[0] != '#')
      error(path, "$ref \"", target, "\" must point into this schema (\"#...\")");
    if (auto it = refs_.find(target); it != refs_.end()) return it->second;
    const ojson* doc = nullptr;
    try {
      doc = &root_.at(ojson::json_pointer(target.substr(1)));
    } catch (const std::exception&) {
      error(path, "$ref \"", target, "\" does not resolve");
    }
    // Reserve the node first so a recursive reference finds it.
    SchemaNode n;
    n.kind = Kind::kAnyOf;
    n.path = path + "->" + target;
    const int32_t id = add(n);
    refs_[target] = id;
    const int32_t body = compile(*doc, target, nesting + 1);
    out_.nodes[id].children = {body};
    return id;
  }

  static bool has_type(const ojson& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer")
      return v.is_number_integer() ||
             (v.is_number_float() && std::isfinite(v.get<double>()) &&
              std::floor(v.get<double>()) == v.get<double>());
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    return false;
  }

  int32_t literals(const ojson& s, const std::vector<std::string>& types, const std::string& path) {
    std::vector<ojson> values;
    if (auto it = s.find("const"); it != s.end()) values.push_back(*it);
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array()) error(path, "`enum` must be an array");
      if (s.contains("const")) error(path, "`enum` and `const` together");
      values.assign(it->begin(), it->end());
    }
    SchemaNode n;
    n.kind = Kind::kLiterals;
    n.path = path;
    for (const auto& v : values) {
      if (!types.empty() &&
          std::none_of(types.begin(), types.end(), [&](const std::string& t) { return has_type(v, t); }))
        continue;
      if (v.is_number_float() && !std::isfinite(v.get<double>())) continue;
      n.literals.push_back(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    std::sort(n.literals.begin(), n.literals.end());
    n.literals.erase(std::unique(n.literals.begin(), n.literals.end()), n.literals.end());
    if (n.literals.empty()) error(path, "`enum`/`const` has no value (of the schema's type)");
    return add(std::move(n));
  }

  int32_t typed(const ojson& s, const std::string& type, const std::string& path, int nesting) {
    if (type == "object") return object(s, path, nesting);
    if (type == "array") {
      SchemaNode n;
      n.kind = Kind::kArray;
      n.path = path;
      auto it = s.find("items");
      if (it != s.end() && it->is_array()) error(path, "tuple `items` (an array) is not supported");
      const int32_t items = it == s.end() ? any() : compile(*it, path + ".items", nesting + 1);
      n.children = {items};
      return add(std::move(n));
    }
    if (type == "string") return string(s, path);
    if (type == "number" || type == "integer") return number(s, type == "integer", path);
    if (type == "boolean" || type == "null") {
      SchemaNode n;
      n.kind = Kind::kLiterals;
      n.path = path;
      n.literals = type == "null" ? std::vector<std::string>{"null"}
                                  : std::vector<std::string>{"false", "true"};
      return add(std::move(n));
    }
    error(path + ".type", "unknown type \"", type, "\"");
  }

  int32_t object(const ojson& s, const std::string& path, int nesting) {
    const ojson* props = nullptr;
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) error(path, "`properties` must be an object");
      props = &*it;
    }
    std::set<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) error(path, "`required` must be an array");
      for (const auto& r : *it) {
        if (!r.is_string()) error(path, "`required` entries must be strings");
        if (!props || !props->contains(r.get<std::string>()))
          error(path, "required property `", r.get<std::string>(), "` is not in `properties`");
        required.insert(r.get<std::string>());
      }
    }
    const auto ap = s.find("additionalProperties");
    const bool ap_false = ap != s.end() && ap->is_boolean() && !ap->get<bool>();
    if (!props || props->empty()) {
      if (ap_false) {
        SchemaNode n;
        n.kind = Kind::kObject;
        n.path = path;
        return add(std::move(n));
      }
      // No listed properties: a map whose values follow additionalProperties (or anything).
      SchemaNode n;
      n.kind = Kind::kOpenObject;
      n.path = path;
      const int32_t values = ap == s.end() ? any() : compile(*ap, path + ".additionalProperties", nesting + 1);
      n.children = {values, key_string()};
      return add(std::move(n));
    }
    if (ap != s.end() && !ap_false)
      error(path, "`additionalProperties` must be false when `properties` are listed");
    SchemaNode n;
    n.kind = Kind::kObject;
    n.path = path;
    std::vector<int32_t> kids;
    for (const auto& [name, sub] : props->items()) {
      if (!required.count(name)) error(path, "property `", name, "` must be listed in `required`");
      n.keys.push_back(ojson(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      kids.push_back(compile(sub, path + ".properties." + name, nesting + 1));
    }
    n.children = std::move(kids);
    return add(std::move(n));
  }

  int32_t string(const ojson& s, const std::string& path) {
    const auto pat = s.find("pattern");
    const auto fmt = s.find("format");
    if (pat != s.end() && fmt != s.end()) error(path, "`pattern` and `format` together");
    SchemaNode n;
    n.kind = Kind::kString;
    n.path = path;
    if (pat != s.end()) {
      if (!pat->is_string()) error(path, "`pattern` must be a string");
      out_.dfas.push_back(compile_pattern(pat->get<std::string>(), path + ".pattern"));
      n.dfa = static_cast<int32_t>(out_.dfas.size()) - 1;
    } else if (fmt != s.end()) {
      if (!fmt->is_string()) error(path, "`format` must be a string");
      out_.dfas.push_back(compile_format(fmt->get<std::string>(), path + ".format"));
      n.dfa = static_cast<int32_t>(out_.dfas.size()) - 1;
    } else {
      n.dfa = any_string_dfa();
    }
    return add(std::move(n));
  }

  __int128 bound(const ojson& v, const std::string& where, bool up, bool& exact) {
    if (!v.is_number()) error(where, "must be a number");
    __int128 out = 0;
    if (!parse_scaled(v.dump(), up, out, exact)) error(where, "unreadable number ", v.dump());
    return out;
  }

  int32_t number(const ojson& s, bool integer, const std::string& path) {
    NumberSpec spec;
    spec.integer = integer;
    spec.max_frac = integer ? 0 : NumberSpec::kMaxDigits - 1;
    bool exact = true;
    const auto excl = [&](const char* key) {
      auto it = s.find(key);
      return it != s.end() && it->is_boolean() && it->get<bool>();
    };
    auto tighten_lo = [&](__int128 v) {
      spec.lo = spec.has_lo ? std::max(spec.lo, v) : v;
      spec.has_lo = true;
    };
    auto tighten_hi = [&](__int128 v) {
      spec.hi = spec.has_hi ? std::min(spec.hi, v) : v;
      spec.has_hi = true;
    };
    if (auto it = s.find("minimum"); it != s.end()) {
      const __int128 v = bound(*it, path + ".minimum", true, exact);
      tighten_lo(excl("exclusiveMinimum") && exact ? v + 1 : v);  // draft-4 boolean form
    }
    if (auto it = s.find("maximum"); it != s.end()) {
      const __int128 v = bound(*it, path + ".maximum", false, exact);
      tighten_hi(excl("exclusiveMaximum") && exact ? v - 1 : v);
    }
    if (auto it = s.find("exclusiveMinimum"); it != s.end() && !it->is_boolean()) {
      const __int128 v = bound(*it, path + ".exclusiveMinimum", true, exact);
      tighten_lo(exact ? v + 1 : v);
    }
    if (auto it = s.find("exclusiveMaximum"); it != s.end() && !it->is_boolean()) {
      const __int128 v = bound(*it, path + ".exclusiveMaximum", false, exact);
      tighten_hi(exact ? v - 1 : v);
    }
    if (auto it = s.find("multipleOf"); it != s.end()) {
      const __int128 v = bound(*it, path + ".multipleOf", true, exact);
      if (v <= 0 || !exact)
        error(path + ".multipleOf", "must be positive with at most 15 decimals (got ", it->dump(), ")");
      spec.multiple = v;
    }
    if (!number_viable(spec, ""))
      error(path, "no ", integer ? "integer" : "number",
            " of at most 15 digits meets the range/multipleOf");
    SchemaNode n;
    n.kind = Kind::kNumber;
    n.path = path;
    n.number = spec;
    return add(std::move(n));
  }

  const ojson& root_;
  CompiledSchema& out_;
  std::map<std::string, int32_t> refs_;
  int32_t any_ = -1;
  int32_t any_dfa_ = -1;
  int32_t key_string_ = -1;
};

}  // namespace

std::shared_ptr<const CompiledSchema> compile_schema(const nlohmann::ordered_json& schema,
                                                     const std::string& path,
                                                     SchemaOptions options) {
  if (options.max_depth < 2 || options.max_depth > 255 || options.max_whitespace_run < 0 ||
      options.max_whitespace_run > 255 || options.max_threads < 1)
    fail("schema constraint: caps out of range (depth ", options.max_depth, ", whitespace ",
         options.max_whitespace_run, ", threads ", options.max_threads, ")");
  auto out = std::make_shared<CompiledSchema>();
  out->max_depth = options.max_depth;
  out->max_whitespace_run = options.max_whitespace_run;
  out->max_threads = options.max_threads;
  Compiler c(schema, *out);
  out->root = c.compile(schema, path, 0);
  c.finish();
  const std::string text = schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (int k = 0; k < 2; ++k) {
    Hasher64 h(k == 0 ? 0x243f6a8885a308d3ull : 0x13198a2e03707344ull);
    h.add_string(text);
    h.add_u64(static_cast<uint64_t>(options.max_depth) << 32 |
              static_cast<uint64_t>(options.max_whitespace_run) << 16 |
              static_cast<uint64_t>(options.max_threads));
    (k == 0 ? out->id_hi : out->id_lo) = h.digest();
  }
  return out;
}

std::shared_ptr<const CompiledSchema> compile_schema(const nlohmann::json& schema,
                                                     const std::string& path,
                                                     SchemaOptions options) {
  return compile_schema(
      nlohmann::ordered_json::parse(schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
      path, options);
}

}  // namespace whale::sampling
