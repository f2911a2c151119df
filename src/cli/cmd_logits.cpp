// whale logits: the logits of every position of a token-id prompt, as JSON.
#include <cstdio>
#include <string>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "model/model.h"
#include "model/single_sequence.h"
#include "util/error.h"

namespace whale::cli {

void add_logits_command(CLI::App& app) {
  struct Opts {
    std::string model, ids;
    int threads = 0;
    std::string kv = "f32";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("logits", "Print {\"logits\": [[...], ...]} (one row per prompt position) as JSON");
  cmd->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder")->required();
  cmd->add_option("--ids", o->ids, "token ids, e.g. 1,5,9")->required();
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_option("--kv-type", o->kv, "KV cache type: f32 | f16 | bf16 | q8_0")->capture_default_str();
  cmd->callback([o] {
    const auto ids = parse_ids(o->ids);
    if (ids.empty()) fail("--ids: no token ids given");
    ThreadPool pool(o->threads);
    auto m = model::load_model(o->model, pool);
    const model::KvType kv = model::parse_kv_type(o->kv);
    model::SingleSequence seq(*m, static_cast<int64_t>(ids.size()), kv);
    const auto& logits = seq.prompt(ids, true);
    const int64_t V = m->info().vocab_size;
    std::string out = "{\"logits\": [";
    char buf[32];
    for (size_t p = 0; p < ids.size(); ++p) {
      out += p ? ", [" : "[";
      for (int64_t v = 0; v < V; ++v) {
        // %.9g round-trips every f32 exactly.
        std::snprintf(buf, sizeof buf, v ? ", %.9g" : "%.9g", logits[p * V + v]);
        out += buf;
      }
      out += "]";
    }
    out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace whale::cli
