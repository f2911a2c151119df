// `whale info FILE [--json]`: describe a GGUF file, a safetensors file or a Hugging Face
// checkpoint folder from its headers alone (no tensor data is read, so it is instant on files
// of any size).
#include <cinttypes>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "formats/model_file.h"
#include "util/error.h"

namespace whale::cli {
namespace {

using nlohmann::ordered_json;

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1000ull) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  return buf;
}

// Metadata strings may hold any bytes; never let a stray byte abort the dump.
std::string dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

void print_text(const formats::ModelSummary& s) {
  std::printf("%s\n", s.path.c_str());
  if (s.format == "gguf")
    std::printf("  format        GGUF v%u, %s\n", s.gguf_version, human_bytes(s.file_bytes).c_str());
  else
    std::printf("  format        %s, %s\n", s.format.c_str(), human_bytes(s.file_bytes).c_str());
  std::printf("  architecture  %s\n", s.architecture.c_str());
  std::printf("  parameters    %s (%" PRIu64 ")\n", human_count(s.parameter_count).c_str(),
              s.parameter_count);
  std::printf("  tensors       %zu\n", s.tensors.size());
  if (s.kv_values_per_token)
    std::printf("  kv cache      %" PRIu64 " values/token/layer, %" PRIu64
                " values/token (%s/token at f16)\n",
                *s.kv_values_per_token_per_layer, *s.kv_values_per_token,
                human_bytes(*s.kv_values_per_token * 2).c_str());
  for (const auto& w : s.warnings) std::printf("  warning       %s\n", w.c_str());

  if (!s.hyperparameters.empty()) {
    std::printf("hyperparameters:\n");
    for (auto it = s.hyperparameters.begin(); it != s.hyperparameters.end(); ++it)
      std::printf("  %-40s %s\n", it.key().c_str(), dump(it.value()).c_str());
  }
  if (!s.tokenizer.is_null()) {
    std::printf("tokenizer:\n");
    for (auto it = s.tokenizer.begin(); it != s.tokenizer.end(); ++it)
      std::printf("  %-40s %s\n", it.key().c_str(), dump(it.value()).c_str());
  }
  if (!s.bytes_per_type.empty()) {
    std::printf("types:\n");
    for (const auto& [t, b] : s.bytes_per_type)
      std::printf("  %-10s %6" PRIu64 " tensors  %s\n", t.c_str(), s.tensors_per_type.at(t),
                  human_bytes(b).c_str());
  }
  if (!s.tensors.empty()) {
    std::printf("tensors (shape in GGUF order, ne0 first):\n");
    for (const auto& t : s.tensors) {
      std::string shape = "[";
      for (size_t i = 0; i < t.shape.size(); ++i)
        shape += (i ? ", " : "") + std::to_string(t.shape[i]);
      shape += "]";
      std::printf("  %-48s %-8s %-24s offset %" PRIu64 "%s%s\n", t.name.c_str(), t.type.c_str(),
                  shape.c_str(), t.offset, t.file.empty() ? "" : "  ", t.file.c_str());
    }
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "info",
      "Describe a model: a .gguf file, a .safetensors file or a Hugging Face checkpoint folder "
      "(architecture, hyperparameters, tokenizer summary, parameter count, bytes per type, KV "
      "cache size per token, tensor table). Only headers are read.");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("FILE", *path, "model file or checkpoint folder")->required();
  cmd->add_flag("--json", *json,
                "print one JSON object: architecture, tensor_count, parameter_count, "
                "hyperparameters, tokenizer, kv_cache, types, metadata (GGUF key -> value; "
                "arrays longer than 64 elements are summarised as "
                "{\"type\":\"array\",\"elem_type\":\"STRING\",\"length\":N}) and tensors "
                "[{name, type, shape (GGUF order, ne0 first), offset (from the data section), "
                "nbytes}]");
  cmd->callback([path, json] {
    formats::ModelSummary s;
    try {
      s = formats::describe_model(*path);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      // Anything else thrown while reading a bad input is still a bad input, not a crash.
      fail(*path, ": ", e.what());
    }
    if (*json) {
      std::printf("%s\n", dump(formats::to_json(s), 2).c_str());
    } else {
      print_text(s);
    }
  });
}

}  // namespace whale::cli
