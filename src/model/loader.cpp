// load_model: picks the file format and the architecture, then builds the model.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "model/deepseek2.h"
#include "model/hparams.h"
#include "model/llama.h"
#include "model/model.h"
#include "model/weights.h"
#include "util/error.h"

namespace whale::model {
namespace {

constexpr uint64_t kProgressThreshold = uint64_t{1} << 30;  // 1 GB

// Touches every page of the tensor data so the first tokens don't stall on page faults; draws a
// progress bar on a terminal.
void page_in(const gguf::GgufFile& f, bool show) {
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.nbytes;
  show = show && total >= kProgressThreshold && ::isatty(STDERR_FILENO);
  uint64_t done = 0, next_report = 0;
  volatile uint8_t sink = 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  for (const auto& info : f.tensors()) {
    const TensorView v = f.view(info);
    for (size_t off = 0; off < v.nbytes; off += static_cast<size_t>(page)) sink = sink + v.data[off];
    done += info.nbytes;
    if (show && done >= next_report) {
      const int pct = static_cast<int>(100.0 * double(done) / double(total));
      const int bar = pct * 40 / 100;
      std::fprintf(stderr, "\rloading %s [%.*s%*s] %3d%% %.1f/%.1f GB", f.name().c_str(), bar,
                   "########################################", 40 - bar, "", pct, done / 1e9, total / 1e9);
      next_report = done + total / 200;
    }
  }
  if (show) std::fprintf(stderr, "\n");
  (void)sink;
}

std::unique_ptr<Model> build(Hparams hp, std::unique_ptr<WeightSource> w, ThreadPool& pool, std::string name,
                             std::shared_ptr<const void> keep_alive) {
  if (hp.arch == Arch::kDeepSeek2) return make_deepseek2(std::move(hp), std::move(w), pool, std::move(name), std::move(keep_alive));
  return make_llama(std::move(hp), std::move(w), pool, std::move(name), std::move(keep_alive));
}

}  // namespace

std::unique_ptr<Model> load_model(const std::filesystem::path& path, ThreadPool& pool, const LoadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    const auto cfg_path = path / "config.json";
    std::ifstream in(cfg_path);
    if (!in) fail(path.string(), ": not a GGUF file and no config.json in the folder");
    nlohmann::json cfg;
    try {
      cfg = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail(cfg_path.string(), ": invalid JSON: ", e.what());
    }
    Hparams hp = hparams_from_hf_config(cfg, cfg_path.string());
    auto w = hf_weights(path, hp.n_layers);
    return build(std::move(hp), std::move(w), pool, path.filename().string(), nullptr);
  }
  std::shared_ptr<gguf::GgufFile> file = gguf::GgufFile::open(path);
  Hparams hp = hparams_from_gguf(*file);
  page_in(*file, options.progress);
  auto w = gguf_weights(*file);
  std::string name = file->get_or<std::string>("general.name", path.filename().string());
  return build(std::move(hp), std::move(w), pool, std::move(name), file);
}

}  // namespace whale::model
