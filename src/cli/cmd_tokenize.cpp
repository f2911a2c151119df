// `whale tokenize` and `whale detokenize`: text <-> token ids with a model's tokenizer (a GGUF
// file, a tokenizer.json or a folder holding one). Handy for checking prompts and chat renders.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace whale::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string text_file;
  bool json = false;
  bool verbose = false;
  bool special = false;
  bool no_bos = false;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("--text-file ", path, ": cannot open");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Pieces may hold bytes that are not UTF-8 (byte-level fragments); never let one abort output.
std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void run_tokenize(const TokenizeOptions& o) {
  const auto tok = tokenizer::Tokenizer::load(o.model);
  const std::string text = o.text_file.empty() ? o.text : read_bytes(o.text_file);
  const auto ids = tok->encode(text, !o.no_bos && tok->add_bos_default(), o.special);
  std::string out;
  if (o.verbose) {
    for (int32_t id : ids) out += std::to_string(id) + "\t" + json_string(tok->piece(id)) + "\n";
  } else if (o.json) {
    out = nlohmann::json(ids).dump() + "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", o->model, "GGUF file, tokenizer.json, or a folder holding one")
      ->required();
  auto* text = cmd->add_option("--text", o->text, "text to tokenize");
  auto* file = cmd->add_option("--text-file", o->text_file, "file whose bytes are tokenized as is");
  text->excludes(file);
  file->excludes(text);
  cmd->add_flag("--json", o->json, "print a JSON array");
  cmd->add_flag("--verbose", o->verbose, "one line per token: id<TAB>vocab piece as JSON string");
  cmd->add_flag("--special", o->special,
                "recognise control tokens written in the text (e.g. <｜User｜>); without it they "
                "are tokenized as plain text");
  cmd->add_flag("--no-bos", o->no_bos, "do not prepend the BOS token");
  cmd->callback([o, text, file] {
    if (text->count() == 0 && file->count() == 0) fail("whale tokenize: give --text or --text-file");
    run_tokenize(*o);
  });

  auto model = std::make_shared<std::string>();
  auto ids_text = std::make_shared<std::string>();
  auto skip = std::make_shared<bool>(false);
  auto* de = app.add_subcommand("detokenize", "Print the text of token ids");
  de->add_option("-m,--model", *model, "GGUF file, tokenizer.json, or a folder holding one")
      ->required();
  de->add_option("--ids", *ids_text, "ids separated by commas or spaces")->required();
  de->add_flag("--skip-special", *skip, "leave out special tokens (BOS, EOS, ...)");
  de->callback([model, ids_text, skip] {
    const auto tok = tokenizer::Tokenizer::load(*model);
    const std::string text = tok->decode(parse_ids(*ids_text), *skip);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  });
}

}  // namespace whale::cli
