// Jinja lexing with the whitespace semantics of Jinja2 3.x under trim_blocks + lstrip_blocks
// (the transformers configuration).
#include "chat/jinja_lexer.h"

#include <cstring>

#include "chat/jinja.h"

namespace whale::chat::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Jinja2 turns \r\n and \r into \n and, without keep_trailing_newline, drops one final newline.
std::string normalize_newlines(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (in[k] == '\r') {
      out += '\n';
      if (k + 1 < in.size() && in[k + 1] == '\n') ++k;
    } else {
      out += in[k];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : src_(normalize_newlines(src)) {}

  std::vector<Token> run() {
    std::size_t pos = 0;
    while (pos < src_.size()) {
      std::size_t open = find_open(pos);
      std::string text = src_.substr(pos, (open == std::string::npos ? src_.size() : open) - pos);
      if (open == std::string::npos) {
        emit_text(text, pos);
        break;
      }
      char kind = src_[open + 1];  // '{', '%' or '#'
      char mod = open + 2 < src_.size() ? src_[open + 2] : '\0';
      bool line_starting = (pos == 0) || src_[pos - 1] == '\n';
      if (mod == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (mod != '+' && kind != '{') {
        // lstrip_blocks: drop spaces/tabs between the line start and a block or comment tag.
        std::size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if (l_pos > 0 || line_starting) {
          bool ws = true;
          for (std::size_t k = l_pos; k < text.size(); ++k)
            if (!is_space(text[k])) ws = false;
          if (ws) text.resize(l_pos);
        }
      }
      emit_text(text, pos);
      std::size_t body = open + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(body);
      } else if (kind == '%' && is_raw(body)) {
        pos = lex_raw(body);
      } else {
        pos = lex_tag(kind, body);
      }
    }
    push(Token::T::Eof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  std::size_t find_open(std::size_t from) const {
    for (std::size_t k = from; k + 1 < src_.size(); ++k)
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    return std::string::npos;
  }

  int line_at(std::size_t pos) {
    // Incremental: positions only move forward.
    while (line_pos_ < pos && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void push(Token::T t, std::string s, std::size_t pos) {
    Token tok;
    tok.t = t;
    tok.s = std::move(s);
    tok.line = line_at(pos);
    tokens_.push_back(std::move(tok));
  }

  void emit_text(const std::string& text, std::size_t pos) {
    if (!text.empty()) push(Token::T::Text, text, pos);
  }

  [[noreturn]] void error(const std::string& what, std::size_t pos) {
    throw TemplateSyntaxError(whale::str_cat("template syntax error at line ", line_at(pos), ": ", what));
  }

  // After a block/comment end: `-` strips all following whitespace, otherwise trim_blocks
  // removes one newline unless the end was written `+%}`.
  std::size_t after_end(std::size_t pos, char end_mod, bool block_like) {
    if (end_mod == '-') {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    } else if (block_like && end_mod != '+' && pos < src_.size() && src_[pos] == '\n') {
      ++pos;
    }
    return pos;
  }

  std::size_t lex_comment(std::size_t pos) {
    std::size_t end = src_.find("#}", pos);
    if (end == std::string::npos) error("unterminated comment", pos);
    char mod = end > pos && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    return after_end(end + 2, mod, true);
  }

  bool is_raw(std::size_t pos) const {
    while (pos < src_.size() && is_space(src_[pos])) ++pos;
    if (src_.compare(pos, 3, "raw") != 0) return false;
    pos += 3;
    while (pos < src_.size() && is_space(src_[pos])) ++pos;
    if (pos < src_.size() && (src_[pos] == '-' || src_[pos] == '+')) ++pos;
    return src_.compare(pos, 2, "%}") == 0;
  }

  std::size_t lex_raw(std::size_t pos) {
    std::size_t close = src_.find("%}", pos);
    char mod = src_[close - 1] == '-' || src_[close - 1] == '+' ? src_[close - 1] : '\0';
    std::size_t start = after_end(close + 2, mod, true);
    // Find {%[-+]? endraw [-+]?%}
    std::size_t search = start;
    while (true) {
      std::size_t open = src_.find("{%", search);
      if (open == std::string::npos) error("unterminated raw block", pos);
      std::size_t p = open + 2;
      char omod = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : '\0';
      if (omod) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") == 0) {
        p += 6;
        while (p < src_.size() && is_space(src_[p])) ++p;
        char emod = '\0';
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) emod = src_[p++];
        if (src_.compare(p, 2, "%}") == 0) {
          std::string text = src_.substr(start, open - start);
          if (omod == '-')
            while (!text.empty() && is_space(text.back())) text.pop_back();
          emit_text(text, start);
          return after_end(p + 2, emod, true);
        }
      }
      search = open + 2;
    }
  }

  std::size_t lex_tag(char kind, std::size_t pos) {
    push(kind == '{' ? Token::T::VarBegin : Token::T::BlockBegin, "", pos);
    const char close = kind == '{' ? '}' : '%';
    int depth = 0;  // brackets: `}}` inside a dict literal is not the tag end
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (pos >= src_.size()) error(kind == '{' ? "unterminated '{{'" : "unterminated '{%'", pos);
      char c = src_[pos];
      // Tag end, optionally with a whitespace marker.
      if (depth == 0) {
        std::size_t p = pos;
        char mod = '\0';
        if ((c == '-' || c == '+') && p + 2 < src_.size() + 1 && src_.compare(p + 1, 2, std::string{close, '}'}) == 0) {
          mod = c;
          ++p;
        }
        if (src_.compare(p, 2, std::string{close, '}'}) == 0) {
          push(kind == '{' ? Token::T::VarEnd : Token::T::BlockEnd, "", pos);
          return after_end(p + 2, mod, kind == '%');
        }
      }
      if (is_name_start(c)) {
        std::size_t e = pos;
        while (e < src_.size() && (is_name_start(src_[e]) || is_digit(src_[e]))) ++e;
        push(Token::T::Name, src_.substr(pos, e - pos), pos);
        pos = e;
      } else if (is_digit(c)) {
        pos = lex_number(pos);
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        static const char* const ops[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                          "<",  ">",  "=",  "(",  ")",  "[",  "]", "{", "}", ",", ".", ":", "|"};
        const char* hit = nullptr;
        for (const char* op : ops)
          if (src_.compare(pos, std::strlen(op), op) == 0) {
            hit = op;
            break;
          }
        if (!hit) error(whale::str_cat("unexpected character '", c, "'"), pos);
        std::string op = hit;
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        push(Token::T::Op, op, pos);
        pos += op.size();
      }
    }
  }

  std::size_t lex_number(std::size_t pos) {
    std::size_t e = pos;
    while (e < src_.size() && (is_digit(src_[e]) || src_[e] == '_')) ++e;
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      is_float = true;
      ++e;
      while (e < src_.size() && (is_digit(src_[e]) || src_[e] == '_')) ++e;
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      std::size_t p = e + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        is_float = true;
        e = p;
        while (e < src_.size() && is_digit(src_[e])) ++e;
      }
    }
    std::string s;
    for (std::size_t k = pos; k < e; ++k)
      if (src_[k] != '_') s += src_[k];
    push(is_float ? Token::T::Float : Token::T::Int, s, pos);
    return e;
  }

  std::size_t lex_string(std::size_t pos) {
    char q = src_[pos];
    std::string out;
    std::size_t p = pos + 1;
    while (true) {
      if (p >= src_.size()) error("unterminated string", pos);
      char c = src_[p];
      if (c == q) break;
      if (c != '\\') {
        out += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) error("unterminated string", pos);
      char e = src_[p + 1];
      p += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '0': out += '\0'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          unsigned long cp = 0;
          for (int k = 0; k < n; ++k) {
            int h = p < src_.size() ? hex_val(src_[p]) : -1;
            if (h < 0) error(whale::str_cat("bad \\", e, " escape in string"), pos);
            cp = cp * 16 + static_cast<unsigned long>(h);
            ++p;
          }
          if (cp > 0x10FFFF) error("escape outside Unicode range", pos);
          append_utf8(out, cp);
          break;
        }
        default:
          out += '\\';
          out += e;
      }
    }
    push(Token::T::String, out, pos);
    return p + 1;
  }

  std::string src_;
  std::vector<Token> tokens_;
  int line_ = 1;
  std::size_t line_pos_ = 0;
};

}  // namespace

std::vector<Token> lex_template(const std::string& source) { return Lexer(source).run(); }

}  // namespace whale::chat::jinja
