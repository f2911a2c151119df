// End-to-end tests of `whale bench` on a small synthetic model: the JSON report carries the
// fields issue 5 names, its numbers are consistent with each other (roofline = bandwidth /
// weight bytes; KV bytes = 576 values x 2 bytes x layers for f16, about half for q8_0; cost =
// price / (3600 x tok/s) x 1e6), and bad options fail with a message instead of a crash.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/run_whale.h"

namespace {

using whale::testing::run_whale;
using json = nlohmann::json;

std::string tiny_model() {
  static const std::string path = [] {
    const auto p = whale::testing::scratch_dir("whale_bench_test") / "tiny.gguf";
    const auto r = run_whale({"synth", "--shape", "v2-lite-tiny", "--mix", "q8_0", "-o", p.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return p.string();
  }();
  return path;
}

TEST(BenchCli, JsonReportHasTheIssueFieldsAndConsistentNumbers) {
  const std::string m = tiny_model();
  for (const std::string kv : {"f16", "q8_0"}) {
    const auto r = run_whale({"bench", "-m", m, "-p", "16", "-n", "4", "-r", "2", "-t", "2", "--ctx", "0,40",
                              "--bw-gb", "0.05", "--kv-type", kv, "--price-per-hour", "1.5", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    for (const char* k : {"pp_tok_s", "tg_tok_s", "bandwidth_gb_s", "weight_bytes_per_token", "roofline_pct",
                          "kv_bytes_per_token", "rss_bytes"})
      ASSERT_TRUE(j.contains(k)) << k;
    EXPECT_GT(j["pp_tok_s"].get<double>(), 0);
    EXPECT_GT(j["tg_tok_s"].get<double>(), 0);
    EXPECT_LE(j["tg_tok_s_min"].get<double>(), j["tg_tok_s"].get<double>());
    EXPECT_GE(j["tg_tok_s_max"].get<double>(), j["tg_tok_s"].get<double>());
    const double bw = j["bandwidth_gb_s"], wb = j["weight_bytes_per_token"];
    EXPECT_GT(bw, 0);
    EXPECT_GT(wb, 0);
    EXPECT_LT(wb, j["weight_bytes_total"].get<double>());  // only k of E experts per token
    EXPECT_NEAR(j["roofline_tok_s"].get<double>(), bw * 1e9 / wb, 1e-6 * bw * 1e9 / wb);
    EXPECT_NEAR(j["roofline_pct"].get<double>(), 100.0 * j["tg_tok_s"].get<double>() / j["roofline_tok_s"].get<double>(),
                1e-6 * j["roofline_pct"].get<double>() + 1e-9);
    // v2-lite-tiny: 3 layers, kv_lora 512 + rope 64 = 576 values per token per layer.
    const double kvb = j["kv_bytes_per_token"];
    if (kv == "f16") EXPECT_EQ(kvb, 576.0 * 2 * 3);
    else EXPECT_EQ(kvb, 576.0 / 32 * 34 * 3);
    EXPECT_NEAR(j["usd_per_million_input_tokens"].get<double>(), 1.5 / (3600 * j["pp_tok_s"].get<double>()) * 1e6,
                1e-9 + 1e-6 * j["usd_per_million_input_tokens"].get<double>());
    EXPECT_NEAR(j["usd_per_million_output_tokens"].get<double>(), 1.5 / (3600 * j["tg_tok_s"].get<double>()) * 1e6,
                1e-9 + 1e-6 * j["usd_per_million_output_tokens"].get<double>());
    ASSERT_EQ(j["tg_by_depth"].size(), 2u);
    EXPECT_EQ(j["tg_by_depth"][1]["depth"], 40);
    EXPECT_EQ(j["tg_by_depth"][1]["runs"].size(), 2u);
  }
}

TEST(BenchCli, TextReportNamesEveryQuantity) {
  const auto r = run_whale({"bench", "-m", tiny_model(), "-p", "8", "-n", "2", "-r", "1", "--bw-gb", "0.05"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* k : {"pp8:", "tg2 @ depth 0:", "read per decoded token", "GB/s measured", "roofline", "per token",
                        "RSS"})
    EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
}

TEST(BenchCli, BadOptionsFailCleanly) {
  const std::string m = tiny_model();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"bench", "-m", m, "--kv-type", "q4"},
           {"bench", "-m", m, "--ctx", "0,x"},
           {"bench", "-m", m, "-r", "0"},
           {"bench", "-m", "/nonexistent/model.gguf"}}) {
    const auto r = run_whale(args);
    EXPECT_EQ(r.exit_code, 1) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
}

}  // namespace
