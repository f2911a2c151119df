// whale run: generate from token ids (--ids), answer one prompt (-p), or chat in the terminal.
//
// The terminal chat renders each turn with the model's own chat template, streams tokens as
// they come, shows reasoning dimmed apart from the answer, keeps the history without earlier
// reasoning, and lets Ctrl-C stop the current answer without quitting.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "chat/chat_template.h"
#include "chat/reasoning.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "formats/gguf.h"
#include "model/model.h"
#include "model/single_sequence.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace whale::cli {
namespace {

// Set by SIGINT while an answer streams. A signal handler can only reach static storage, so
// this one flag is the process's single mutable global.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

struct Opts {
  std::string model, ids, prompt, system;
  int n_predict = -1;
  int threads = 0;
  int ctx = 4096;
  float temp = 0.6f, top_p = 0.95f, min_p = 0.0f, repeat_penalty = 1.0f;
  int top_k = 0;
  int64_t seed = -1;
  bool print_ids = false, raw = false, no_think_display = false;
};

sampling::SamplingParams sampling_params(const Opts& o) {
  sampling::SamplingParams p;
  p.temperature = o.temp;
  p.top_p = o.top_p;
  p.top_k = o.top_k;
  p.min_p = o.min_p;
  p.repetition_penalty = o.repeat_penalty;
  if (o.seed >= 0) p.seed = static_cast<uint64_t>(o.seed);
  return p;
}

struct Stats {
  int tokens = 0;
  double seconds = 0;
};

// Generates up to n tokens after the prompt, calling emit(token) for each; stops at an
// end-of-generation token (not emitted), at n, or on Ctrl-C.
template <class Emit>
Stats generate(model::SingleSequence& seq, std::span<const int32_t> prompt, int n, sampling::Sampler& sampler,
               const tokenizer::Tokenizer* tok, Emit emit) {
  sampler.set_prompt(prompt);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = seq.prompt(prompt);
  Stats st;
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; n < 0 || i < n; ++i) {
    if (g_interrupted.load()) break;
    const auto s = sampler.sample(logits, nullptr);
    if (tok && tok->is_eog(s.token)) break;
    emit(s.token);
    ++st.tokens;
    if (n >= 0 && i + 1 == n) break;
    if (seq.n_past() + 1 > seq.kv().n_blocks() * model::KvPool::kBlockTokens) break;  // context full
    const int32_t t = s.token;
    logits = seq.eval({&t, 1});
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  (void)t0;
  return st;
}

void print_speed(const Stats& st) {
  if (st.tokens > 0 && st.seconds > 0)
    std::fprintf(stderr, "\n[%d tokens, %.2f tok/s]\n", st.tokens, st.tokens / st.seconds);
}

// Streams text, with reasoning dimmed on a terminal (or marked on a pipe).
class Printer {
 public:
  Printer(const tokenizer::Tokenizer& tok, bool start_inside) : dec_(tok), split_(start_inside) {}
  void token(int32_t id) { show(split_.feed(dec_.push(id))); }
  std::string finish() {
    auto d = split_.feed(dec_.flush());
    auto e = split_.finish();
    d.reasoning += e.reasoning, d.content += e.content;
    show(d);
    if (in_reasoning_) end_reasoning();
    std::fflush(stdout);
    return content_;
  }

 private:
  void show(const chat::ReasoningDelta& d) {
    if (!d.reasoning.empty()) {
      if (!in_reasoning_) {
        std::fputs(tty_ ? "\033[2m" : "<think>\n", stdout);
        in_reasoning_ = true;
      }
      std::fputs(d.reasoning.c_str(), stdout);
    }
    if (!d.content.empty()) {
      if (in_reasoning_) end_reasoning();
      std::fputs(d.content.c_str(), stdout);
      content_ += d.content;
    }
    std::fflush(stdout);
  }
  void end_reasoning() {
    std::fputs(tty_ ? "\033[0m\n\n" : "\n</think>\n\n", stdout);
    in_reasoning_ = false;
  }
  tokenizer::StreamDecoder dec_;
  chat::ReasoningSplitter split_;
  bool tty_ = ::isatty(STDOUT_FILENO);
  bool in_reasoning_ = false;
  std::string content_;
};

void run_ids(const Opts& o, model::Model& m, const tokenizer::Tokenizer* tok) {
  const auto ids = parse_ids(o.ids);
  if (ids.empty()) fail("--ids: no token ids given");
  const int n = o.n_predict < 0 ? 32 : o.n_predict;
  model::SingleSequence seq(m, static_cast<int64_t>(ids.size()) + n + 1);
  sampling::Sampler sampler(sampling_params(o), m.info().vocab_size);
  std::vector<int32_t> out;
  // --print-ids reports exactly n tokens (end-of-generation ids included): the model's raw output.
  generate(seq, ids, n, sampler, o.print_ids ? nullptr : tok, [&](int32_t t) { out.push_back(t); });
  if (o.print_ids || !tok) {
    for (size_t i = 0; i < out.size(); ++i) std::printf(i ? " %d" : "%d", out[i]);
    std::printf("\n");
  } else {
    std::printf("%s\n", tok->decode(out).c_str());
  }
}

std::string render(const tokenizer::Tokenizer& tok, const nlohmann::ordered_json& messages, const chat::ChatFormat& fmt) {
  chat::RenderOptions ro;
  ro.bos_token = tok.bos_text();
  ro.eos_token = tok.eos_text();
  ro.warn = [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); };
  return chat::render_chat(tok.chat_template(), chat::prepare_messages(messages, fmt), nullptr, ro);
}

void run_chat(const Opts& o, model::Model& m, const tokenizer::Tokenizer& tok) {
  const bool have_template = !tok.chat_template().empty() && !o.raw;
  const chat::ChatFormat fmt = chat::chat_format(have_template ? chat::detect_family(tok.chat_template()) : chat::ChatFamily::Unknown);
  model::SingleSequence seq(m, o.ctx);
  std::signal(SIGINT, on_sigint);
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  if (!o.system.empty()) history.push_back({{"role", "system"}, {"content", o.system}});

  auto answer = [&](const std::string& user) {
    std::vector<int32_t> prompt;
    if (have_template) {
      history.push_back({{"role", "user"}, {"content", user}});
      prompt = tok.encode(render(tok, history, fmt), false, true);
    } else {
      prompt = tok.encode(user, tok.add_bos_default(), false);
    }
    if (static_cast<int64_t>(prompt.size()) >= o.ctx) fail("prompt of ", prompt.size(), " tokens does not fit the context of ", o.ctx, " (use -c)");
    // The whole conversation is re-rendered each turn (earlier reasoning is dropped from it), so
    // evaluate from scratch: simple and always consistent with the template.
    seq.reset();
    sampling::Sampler sampler(sampling_params(o), m.info().vocab_size);
    Printer pr(tok, have_template && fmt.thinking_forced_open);
    g_interrupted.store(false);
    const int budget = o.n_predict < 0 ? static_cast<int>(o.ctx - prompt.size() - 1) : o.n_predict;
    Stats st = generate(seq, prompt, budget, sampler, &tok, [&](int32_t t) { pr.token(t); });
    const std::string content = pr.finish();
    if (g_interrupted.load()) std::fprintf(stderr, "\n[stopped]");
    if (have_template) history.push_back({{"role", "assistant"}, {"content", content}});
    print_speed(st);
  };

  if (!o.prompt.empty()) {
    answer(o.prompt);
    return;
  }
  std::fprintf(stderr, "whale chat: %s. /reset clears the history, /exit quits, Ctrl-C stops an answer.\n",
               m.info().name.c_str());
  std::string line;
  for (;;) {
    std::fputs(::isatty(STDIN_FILENO) ? "\n> " : "", stdout);
    std::fflush(stdout);
    g_interrupted.store(false);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      history = nlohmann::ordered_json::array();
      if (!o.system.empty()) history.push_back({{"role", "system"}, {"content", o.system}});
      std::fprintf(stderr, "[history cleared]\n");
      continue;
    }
    if (line.empty()) continue;
    answer(line);
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("run", "Generate text: from token ids, one prompt, or an interactive chat");
  cmd->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder (default: the built-in demo model)");
  cmd->add_option("--ids", o->ids, "prompt as token ids (e.g. 1,5,9)");
  cmd->add_option("-p,--prompt", o->prompt, "answer this prompt once and exit");
  cmd->add_option("-s,--system", o->system, "system prompt");
  cmd->add_flag("--raw", o->raw, "do not apply the chat template to -p / chat input");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (default: 32 for --ids, else until the end)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context size in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_option("--temp", o->temp, "temperature (0 = greedy)")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "top-p")->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "top-k (0 = off)")->capture_default_str();
  cmd->add_option("--min-p", o->min_p, "min-p (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", o->repeat_penalty, "repetition penalty (1 = off)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed (default: random)");
  cmd->add_flag("--print-ids", o->print_ids, "with --ids: print the generated ids on one line");
  cmd->callback([o] {
    const std::filesystem::path path = o->model.empty() ? demo_model_path() : std::filesystem::path(o->model);
    if (o->model.empty()) std::fprintf(stderr, "using the built-in demo model (random weights: gibberish output)\n");
    ThreadPool pool(o->threads);
    auto m = model::load_model(path, pool);
    std::unique_ptr<tokenizer::Tokenizer> tok;
    try {
      tok = tokenizer::Tokenizer::load(path);
    } catch (const Error& e) {
      if (o->ids.empty()) throw;  // text needs a tokenizer; raw ids do not
    }
    if (!o->ids.empty()) return run_ids(*o, *m, tok.get());
    run_chat(*o, *m, *tok);
  });
}

}  // namespace whale::cli
