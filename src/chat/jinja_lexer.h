// Tokenizer of Jinja template source: splits text from tags and applies the whitespace rules
// (`-` / `+` markers, trim_blocks, lstrip_blocks, newline normalisation, dropped final newline),
// so the parser only sees tokens. Internal to the chat layer.
#pragma once
#include <string>
#include <vector>

namespace whale::chat::jinja {

struct Token {
  enum class T { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };
  T t = T::Eof;
  std::string s;  // text / name / unescaped string / number spelling / operator
  int line = 1;
};

// Throws TemplateSyntaxError (unterminated tag or string, unexpected character).
std::vector<Token> lex_template(const std::string& source);

}  // namespace whale::chat::jinja
