// A Jinja2-subset template engine, enough for the chat templates shipped with DeepSeek V2/V3/
// V3.1/R1/R1-0528/R1-Distill and Qwen models. Semantics follow Jinja2 3.x configured the way
// Hugging Face transformers renders chat templates: trim_blocks and lstrip_blocks on, loop
// controls (break/continue), `tojson` keeping non-ASCII (Python json.dumps spacing),
// `raise_exception(msg)`, default (lenient) undefined values, no autoescape.
//
// Supported: text, {{ }}, {% %}, {# #} with `-`/`+` whitespace control; if/elif/else, for
// (tuple targets, `if` filter, else, loop.index/index0/revindex/revindex0/first/last/length/
// previtem/nextitem/cycle), set (names, tuples, `ns.attr`, block set), macro (+ call), raw,
// filter blocks, `generation` (transparent); expressions with Python semantics (+ - * / // % **,
// ~, comparisons incl. chained, in / not in, and/or/not, ternary, is-tests, filters, slices,
// list/tuple/dict literals, method calls on str/dict/list).
//
// Errors (all derive from whale::Error, so callers may catch just that):
//   TemplateSyntaxError      the text is not valid Jinja (message has the line number);
//   UnsupportedTemplateError valid Jinja that this subset does not implement (extends, include,
//                            an unknown filter/test/method...): message names the construct and
//                            line; callers may fall back to a built-in renderer;
//   TemplateRenderError      the template failed while running: raise_exception(), a Python-level
//                            type error such as `'x' in None` ("argument of type 'NoneType' is
//                            not iterable"), or a resource limit.
// Rendering never crashes or hangs on any input: loop iterations, call depth, expression
// nesting and output size are bounded (RenderLimits).
// Thread safety: a parsed Template is immutable; render() may run concurrently.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace whale::chat::jinja {

class TemplateSyntaxError : public whale::Error {
 public:
  using whale::Error::Error;
};
class UnsupportedTemplateError : public whale::Error {
 public:
  UnsupportedTemplateError(const std::string& construct, int line);
  const std::string& construct() const { return construct_; }
  int line() const { return line_; }

 private:
  std::string construct_;
  int line_;
};
class TemplateRenderError : public whale::Error {
 public:
  using whale::Error::Error;
};

struct RenderLimits {
  std::size_t max_output_bytes = 32u << 20;    // rendered text, and any one string value
  std::uint64_t max_loop_iterations = 1u << 22;  // summed over all loops of one render
  int max_call_depth = 64;                      // macro recursion
  std::uint64_t max_range = 1u << 20;           // length of range(...)
};

struct TemplateNode;  // parsed tree (jinja_ast.h)

class Template {
 public:
  // Parses `source`. Throws TemplateSyntaxError or UnsupportedTemplateError.
  explicit Template(const std::string& source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with `context` (a JSON object; its keys become template variables; key order is
  // kept for tojson/items). Throws TemplateRenderError or UnsupportedTemplateError.
  std::string render(const nlohmann::ordered_json& context, const RenderLimits& limits = {}) const;

 private:
  std::shared_ptr<const TemplateNode> root_;
};

// Parse + render in one call.
std::string render(const std::string& source, const nlohmann::ordered_json& context,
                   const RenderLimits& limits = {});

}  // namespace whale::chat::jinja
