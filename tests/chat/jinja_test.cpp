// Jinja2 semantics of the interpreter, one construct at a time. Expected strings follow the
// Jinja2 3.x documentation and Python semantics under the transformers configuration
// (trim_blocks, lstrip_blocks, lenient undefined).
#include "chat/jinja.h"

#include <gtest/gtest.h>

namespace whale::chat::jinja {
namespace {

using nlohmann::ordered_json;

std::string R(const std::string& src, const ordered_json& ctx = ordered_json::object()) { return render(src, ctx); }

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(R("<ul>\n  {% for x in xs %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>", {{"xs", {1, 2}}}),
            "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  EXPECT_EQ(R("x  {{- 'y' -}}  z"), "xyz");
  EXPECT_EQ(R("a  \n  {%- if true -%}  \n b {%- endif %}"), "ab");
  EXPECT_EQ(R("  {%+ if true %}a{% endif %}"), "  a");      // + disables lstrip_blocks
  EXPECT_EQ(R("{% if true +%}\na{% endif %}"), "\na");      // + disables trim_blocks
  EXPECT_EQ(R("  {{ 'v' }}\n"), "  v");                      // lstrip only for blocks; final \n dropped
  EXPECT_EQ(R("hi\n\n"), "hi\n");
  EXPECT_EQ(R("a\r\nb"), "a\nb");
  EXPECT_EQ(R("a\n  {# comment #}\nb"), "a\nb");
  EXPECT_EQ(R("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(Jinja, LoopsAndScoping) {
  EXPECT_EQ(R("{% for x in 'abc' %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"), "1a,2b,3c");
  EXPECT_EQ(R("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(R("{% for x in nothing %}x{% endfor %}done"), "done");  // undefined iterates nothing
  EXPECT_EQ(R("{% for x in [1,2,3,4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"), "2/2 4/2 ");
  EXPECT_EQ(R("{% for x in [1,2,3] %}{{ loop.revindex0 }}{{ loop.first }}{% endfor %}"), "2True1False0False");
  EXPECT_EQ(R("{% for x in [1,2] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"), "-2;1-;");
  EXPECT_EQ(R("{% for x in [1,2,3] %}{{ loop.cycle('a','b') }}{% endfor %}"), "aba");
  EXPECT_EQ(R("{% set x = 1 %}{% for i in [1,2] %}{% set x = x + i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(R("{% set ns = namespace(x=1) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"), "4");
  EXPECT_EQ(R("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(R("{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}"), "02");
  EXPECT_EQ(R("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(R("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}"), "ba");
  EXPECT_EQ(R("{% for m in messages[::-1] %}{{ m }}{% endfor %}", {{"messages", {"a", "b", "c"}}}), "cba");
}

TEST(Jinja, ValuesPrintLikePython) {
  EXPECT_EQ(R("{{ [1, 'a', none, true] }}"), "[1, 'a', None, True]");
  EXPECT_EQ(R("{{ {'k': \"it's\"} }}"), "{'k': \"it's\"}");
  EXPECT_EQ(R("{{ (1,) }}{{ (1, 2) }}"), "(1,)(1, 2)");
  EXPECT_EQ(R("{{ 1.0 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }}"),
            "1.0 2.5 3 -4 2 1024 0.30000000000000004");
  EXPECT_EQ(R("{{ 1e20 }} {{ 1.5e-7 }} {{ 123456789012345.0 }}"), "1e+20 1.5e-07 123456789012345.0");
  EXPECT_EQ(R("{{ none }}|{{ undefined_thing }}|{{ 'a\\nb' }}"), "None||a\nb");
  EXPECT_EQ(R("{{ 1 ~ 'a' ~ none }}"), "1aNone");
  EXPECT_EQ(R("{{ 'ab' * 3 }}{{ [1] + [2] }}"), "ababab[1, 2]");
}

TEST(Jinja, ExpressionsAndOperators) {
  EXPECT_EQ(R("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }}"), "True False True True");
  EXPECT_EQ(R("{{ 'a' in 'cat' }} {{ 'k' in {'k': 1} }} {{ 2 not in [1, 3] }} {{ 'x' in nothing }}"), "True True True False");
  EXPECT_EQ(R("{{ 'y' if true else 'n' }}{{ 'y' if false }}"), "y");
  EXPECT_EQ(R("{{ 0 or 'b' }} {{ 1 and 'c' }} {{ not [] }}"), "b c True");
  // Jinja2 precedence: ~ binds tighter than + and -, looser than * and /.
  EXPECT_EQ(R("{{ -2|abs }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ (2 + 3) ~ 4 }} {{ 'a' ~ 2 * 3 }}"), "2 7 9 54 a6");
  EXPECT_THROW(R("{{ 2 + 3 ~ 4 }}"), TemplateRenderError);  // 2 + '34
  EXPECT_EQ(R("{% set d = {'a': {'b': 1}} %}{{ d.a.b }}{{ d['a']['b'] }}{{ d.missing }}"), "11");
  EXPECT_EQ(R("{{ messages[0].role }}{{ messages[-1]['role'] }}",
              {{"messages", ordered_json::parse(R"([{"role":"user"},{"role":"tool"}])")}}),
            "usertool");
  EXPECT_EQ(R("{{ '%s-%d' % ('a', 3) }}"), "a-3");
}

TEST(Jinja, StringMethods) {
  EXPECT_EQ(R("{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\na'.lstrip('\\n') }}|{{ 'a  '.rstrip() }}"), "a b|a|a|a");
  EXPECT_EQ(R("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c']");
  EXPECT_EQ(R("{{ 'x</think>y</think>z'.split('</think>')[-1] }}"), "z");
  EXPECT_EQ(R("{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ '日本語'[1] }} {{ '日本語'|length }} {{ '日本語'[-2:] }}"),
            "el olleh 本 3 本語");
  EXPECT_EQ(R("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'aXa'.replace('a', 'b') }}"), "True True bXb");
  EXPECT_EQ(R("{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}{{ 'hello world'.title() }}{{ ', '.join(['a', 'b']) }}"),
            "HIhiHello Worlda, b");
  EXPECT_EQ(R("{{ 'a b c'.rsplit(' ', 1) }} {{ 'héllo'.find('l') }}"), "['a b', 'c'] 2");
}

TEST(Jinja, Filters) {
  EXPECT_EQ(R("{{ [3, 1, 2]|sort|join(',') }} {{ [3, 1, 2]|sort(reverse=true)|first }}"), "1,2,3 3");
  EXPECT_EQ(R("{{ nothing|default('d') }} {{ ''|default('d', true) }} {{ ''|default('d') }}|"), "d d |");
  EXPECT_EQ(R("{{ items|selectattr('k')|map(attribute='n')|list }} {{ items|rejectattr('k')|map(attribute='n')|join }}",
              {{"items", ordered_json::parse(R"([{"n":"a","k":1},{"n":"b","k":0}])")}}),
            "['a'] b");
  EXPECT_EQ(R("{{ items|selectattr('k', 'equalto', 0)|map(attribute='n')|first }}",
              {{"items", ordered_json::parse(R"([{"n":"a","k":1},{"n":"b","k":0}])")}}),
            "b");
  EXPECT_EQ(R("{{ {'b': 1, 'a': 2}|items|list }} {{ {'b': 1, 'a': 2}|dictsort }}"), "[('b', 1), ('a', 2)] [('a', 2), ('b', 1)]");
  EXPECT_EQ(R("{{ '  x '|trim }}|{{ 'a-b'|replace('-', '+') }}|{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}|{{ 'Ab'|lower }}{{ 'Ab'|upper }}"),
            "x|a+b|13|abAB");
  EXPECT_EQ(R("{{ [1, 2, 3]|length }} {{ {'a': 1}|count }} {{ nothing|length }} {{ 42|string ~ '!' }}"), "3 1 0 42!");
  EXPECT_EQ(R("{{ [1, 1, 2]|unique|list }} {{ [1, 2]|reverse|list }} {{ [1, 2, 3]|sum }} {{ [4, 2, 9]|max }} {{ ['3', 'x']|map('int')|list }}"),
            "[1, 2] [2, 1] 6 9 [3, 0]");
  EXPECT_EQ(R("{{ 'a\\nb'|indent(2) }}|{{ 3.7|int }}|{{ '2.5'|float }}|{{ 2.567|round(2) }}"), "a\n  b|3|2.5|2.57");
  EXPECT_EQ(R("{% filter upper %}abc{% endfilter %}{% set x %}a{{ 1 }}{% endset %}{{ x }}"), "ABCa1");
  EXPECT_EQ(R("{{ '<b>'|e }}{{ '<b>'|safe }}"), "&lt;b&gt;<b>");
}

TEST(Jinja, ToJsonLikePythonJsonDumps) {
  EXPECT_EQ(R("{{ {'a': 'é\"\\n', 'b': [1, 2.5, none, true], 'c': {}} | tojson }}"),
            "{\"a\": \"é\\\"\\n\", \"b\": [1, 2.5, null, true], \"c\": {}}");
  EXPECT_EQ(R("{{ {'a': [1]}|tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(R("{{ tools[0]|tojson }}", {{"tools", ordered_json::parse(R"([{"z":1,"a":"🐳\u0001"}])")}}),
            "{\"z\": 1, \"a\": \"🐳\\u0001\"}");  // key order kept, non-ASCII kept, controls escaped
  EXPECT_EQ(R("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
}

TEST(Jinja, Tests) {
  EXPECT_EQ(R("{{ none is none }} {{ x is defined }} {{ x is undefined }} {{ 'a' is string }} {{ {} is mapping }}"),
            "True False True True True");
  EXPECT_EQ(R("{{ 3 is odd }} {{ 4 is even }} {{ 1 is equalto 1 }} {{ 6 is divisibleby 3 }} {{ [] is iterable }} {{ 1 is number }}"),
            "True True True True True True");
  EXPECT_EQ(R("{{ none is not none }} {{ not x is defined }} {{ false is false }} {{ 1 is integer }} {{ 1.0 is float }}"),
            "False True True True True");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(R("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('A') }}|{{ greet('B', p='Yo') }}"),
            "Hi A|Yo B");
  EXPECT_EQ(R("{% set g = 'G' %}{% macro f() %}{{ g }}{% endmacro %}{{ f() }}"), "G");
}

TEST(Jinja, GlobalsFromTransformers) {
  EXPECT_EQ(R("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ dict(a=1) }}"), "[0, 1, 2] [1, 3, 5] {'a': 1}");
  EXPECT_EQ(R("{{ strftime_now('%Y')|length }}"), "4");
  try {
    R("{{ raise_exception('Only user and assistant roles are supported!') }}");
    FAIL();
  } catch (const TemplateRenderError& e) {
    EXPECT_NE(std::string(e.what()).find("Only user and assistant roles are supported!"), std::string::npos);
  }
}

TEST(Jinja, PythonTypeErrors) {
  auto expect_error = [](const std::string& src, const std::string& text, const ordered_json& ctx = ordered_json::object()) {
    try {
      render(src, ctx);
      ADD_FAILURE() << src << ": expected " << text;
    } catch (const TemplateRenderError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error("{{ 'a' in c }}", "argument of type 'NoneType' is not iterable", {{"c", nullptr}});
  expect_error("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str");
  expect_error("{{ foo.bar }}", "'foo' is undefined");
  expect_error("{{ {}.a.b }}", "has no attribute 'a'");
  expect_error("{{ 1 < 'a' }}", "'<' not supported between instances of 'int' and 'str'");
  expect_error("{{ 1 // 0 }}", "ZeroDivisionError");
  expect_error("{% for x in none %}{% endfor %}", "'NoneType' object is not iterable");
  expect_error("{{ 1 in 'abc' }}", "'in <string>' requires string as left operand");
  expect_error("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace");
}

TEST(Jinja, SyntaxErrorsNameTheLine) {
  for (const char* src : {"{% if x %}", "{{ x", "{% for %}{% endfor %}", "{{ 'abc }}", "{% endif %}", "a\n\n{{ 1 + }}", "{{ ) }}"}) {
    try {
      render(src, ordered_json::object());
      ADD_FAILURE() << src;
    } catch (const TemplateSyntaxError& e) {
      EXPECT_NE(std::string(e.what()).find("line"), std::string::npos) << e.what();
    }
  }
  try {
    render("a\n\n{{ 1 + }}", ordered_json::object());
  } catch (const TemplateSyntaxError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

TEST(Jinja, UnsupportedConstructsThrowDistinctType) {
  struct Case {
    const char* src;
    const char* construct;
    int line;
  };
  for (const Case& c : {Case{"{% extends 'base' %}", "statement 'extends'", 1},
                        Case{"a\nb\n{% include 'x' %}", "statement 'include'", 3},
                        Case{"{{ x|nosuchfilter }}", "filter 'nosuchfilter'", 1},
                        Case{"\n{{ x is nosuchtest }}", "test 'nosuchtest'", 2},
                        Case{"{% for x in y recursive %}{% endfor %}", "recursive for loop", 1},
                        Case{"{{ 'a{}'.format(1) }}", "str.format", 1}}) {
    try {
      render(c.src, ordered_json::object());
      ADD_FAILURE() << c.src;
    } catch (const UnsupportedTemplateError& e) {
      EXPECT_EQ(e.construct(), c.construct) << c.src;
      EXPECT_EQ(e.line(), c.line) << c.src;
    }
  }
}

TEST(Jinja, ResourceLimits) {
  RenderLimits small;
  small.max_output_bytes = 1 << 16;
  small.max_loop_iterations = 100000;
  EXPECT_THROW(render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{{ 'a' * 1000000000 }}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{{ 2 ** 100 }}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{{ range(100000000)|length }}", {}, small), TemplateRenderError);
  EXPECT_THROW(render("{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}", {}, small),
               TemplateRenderError);
  EXPECT_THROW(render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}", {}, small), TemplateSyntaxError);
  EXPECT_THROW(render("{{ " + std::string(100000, '-') + "1 }}", {}, small), TemplateSyntaxError);
  std::string deep_if;
  for (int k = 0; k < 10000; ++k) deep_if += "{% if true %}";
  EXPECT_THROW(render(deep_if, {}, small), TemplateSyntaxError);
  ordered_json deep = ordered_json::parse(std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_THROW(render("{{ x }}", {{"x", deep}}, small), TemplateRenderError);
}

}  // namespace
}  // namespace whale::chat::jinja
