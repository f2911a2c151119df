// End-to-end tests of `whale bench-serve`: a real `whale serve` on the demo model, loaded by the
// load generator; the report must be well-formed and consistent with what was asked (levels,
// request counts, max_tokens bounds from spec api.md) and show no errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/run_whale.h"

namespace {

using whale::testing::run_whale;
using json = nlohmann::json;

// `whale serve --port 0 ...` in the background; url() is the address it printed.
class ServeChild {
 public:
  explicit ServeChild(std::vector<std::string> args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    args.insert(args.begin(), {WHALE_BINARY, "serve", "--port", "0", "--no-disk-cache"});
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, STDERR_FILENO);  // per-request log lines
      ::close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(WHALE_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 500) <= 0) continue;
      char buf[1024];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, n);
      const auto at = got.find("listening on ");
      if (at != std::string::npos) {
        const auto end = got.find(' ', at + 13);
        if (end != std::string::npos) {
          url_ = got.substr(at + 13, end - at - 13);
          break;
        }
      }
    }
  }
  ~ServeChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string url_;
};

class BenchServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(whale::testing::scratch_dir("bench_serve_test"));
    model_ = new std::string((*dir_ / "demo.gguf").string());
    const auto r = run_whale({"demo-model", "-o", *model_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    server_ = new ServeChild({"-m", *model_, "--parallel", "2"});
    ASSERT_FALSE(server_->url().empty()) << "whale serve did not print its address";
  }
  static void TearDownTestSuite() {
    delete server_;
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete model_;
    delete dir_;
  }
  static inline std::filesystem::path* dir_ = nullptr;
  static inline std::string* model_ = nullptr;
  static inline ServeChild* server_ = nullptr;
};

// Checks one level object of the --json report.
void expect_level(const json& l, int concurrency, int requests, int max_tokens, int prompt_tokens = 128) {
  SCOPED_TRACE(l.dump());
  EXPECT_EQ(l.at("concurrency").get<int>(), concurrency);
  EXPECT_EQ(l.at("requests").get<int>(), requests);
  EXPECT_EQ(l.at("errors").get<int>(), 0);
  EXPECT_FALSE(l.contains("first_error"));
  EXPECT_FALSE(l.at("usage_missing").get<bool>());  // include_usage: the server sends usage
  // max_tokens bounds every completion (api.md); the random demo model rarely stops early.
  const auto tokens = l.at("completion_tokens").get<int64_t>();
  EXPECT_GE(tokens, requests);
  EXPECT_LE(tokens, int64_t{requests} * max_tokens);
  EXPECT_GT(l.at("wall_s").get<double>(), 0.0);
  EXPECT_NEAR(l.at("decode_tok_s").get<double>(), tokens / l.at("wall_s").get<double>(), 1e-6 * tokens);
  EXPECT_GT(l.at("requests_per_s").get<double>(), 0.0);
  // --prompt-tokens is calibrated against the server's usage count: about that many.
  EXPECT_NEAR(l.at("prompt_tokens_mean").get<double>(), prompt_tokens, 0.25 * prompt_tokens);
  EXPECT_GE(l.at("cached_prompt_tokens").get<int64_t>(), 0);
  const double p50 = l.at("ttft_p50_ms").get<double>(), p99 = l.at("ttft_p99_ms").get<double>();
  EXPECT_GT(p50, 0.0);
  EXPECT_GE(p99, p50);
  EXPECT_LE(p99, l.at("wall_s").get<double>() * 1000);
  EXPECT_GE(l.at("ttft_mean_ms").get<double>(), 0.0);
  for (const char* k : {"itl_p50_ms", "itl_p99_ms", "tpot_mean_ms"}) {
    ASSERT_TRUE(l.contains(k)) << k;
    if (!l.at(k).is_null()) {
      EXPECT_GE(l.at(k).get<double>(), 0.0) << k;
    }
  }
  if (!l.at("itl_p50_ms").is_null()) {
    EXPECT_GE(l.at("itl_p99_ms").get<double>(), l.at("itl_p50_ms").get<double>());
  }
}

TEST_F(BenchServeTest, JsonReportPerLevelWithNoErrors) {
  const auto r = run_whale({"bench-serve", "--url", server_->url(), "--concurrency", "1,2", "--requests", "2",
                            "--max-tokens", "8", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json report = json::parse(r.out);
  ASSERT_TRUE(report.is_array());
  ASSERT_EQ(report.size(), 2u);
  expect_level(report[0], 1, 2, 8);
  expect_level(report[1], 2, 2, 8);
}

TEST_F(BenchServeTest, DefaultRequestsAreTwiceTheConcurrency) {
  const auto r = run_whale({"bench-serve", "--url", server_->url() + "/", "--concurrency", "2", "--max-tokens", "4",
                            "--prompt-tokens", "120", "--warmup", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json report = json::parse(r.out);
  ASSERT_EQ(report.size(), 1u);
  expect_level(report[0], 2, 4, 4, 120);
}

TEST_F(BenchServeTest, TableReportNamesTheColumns) {
  const auto r = run_whale(
      {"bench-serve", "--url", server_->url(), "--concurrency", "1", "--requests", "1", "--max-tokens", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* col : {"conc", "tok/s", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99"})
    EXPECT_NE(r.out.find(col), std::string::npos) << col << " in:\n" << r.out;
}

TEST_F(BenchServeTest, SpawnModelStartsAndStopsItsOwnServer) {
  const auto r = run_whale({"bench-serve", "--spawn-model", *model_, "--concurrency", "2", "--requests", "2",
                            "--max-tokens", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json report = json::parse(r.out);
  ASSERT_EQ(report.size(), 1u);
  expect_level(report[0], 2, 2, 4);
}

TEST_F(BenchServeTest, RejectedRequestsFailTheRun) {
  // The server wants a key the client does not send: 401 on the first (warm-up) request.
  const auto r = run_whale({"bench-serve", "--spawn-model", *model_, "--concurrency", "1", "--requests", "1",
                            "--max-tokens", "2", "--api-key", "sk-right", "--warmup", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // same key on both sides: accepted
  ServeChild keyed({"-m", *model_, "--parallel", "1", "--api-key", "sk-right"});
  ASSERT_FALSE(keyed.url().empty());
  const auto bad = run_whale({"bench-serve", "--url", keyed.url(), "--concurrency", "1", "--requests", "1",
                              "--max-tokens", "2", "--api-key", "sk-wrong", "--warmup", "0", "--no-calibrate",
                              "--json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("401"), std::string::npos) << bad.err;
  const json report = json::parse(bad.out);  // the report still comes out
  EXPECT_EQ(report.at(0).at("errors").get<int>(), 1);
  EXPECT_NE(report.at(0).at("first_error").get<std::string>().find("401"), std::string::npos);
  // Without --no-calibrate the first (calibration) request already fails, naming the status.
  const auto early = run_whale({"bench-serve", "--url", keyed.url(), "--api-key", "sk-wrong"});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("401"), std::string::npos) << early.err;
}

TEST(BenchServeArgs, BadUrlAndUnreachableServerAreErrors) {
  auto r = run_whale({"bench-serve", "--url", "127.0.0.1:8080"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:8080"), std::string::npos) << r.err;
  r = run_whale({"bench-serve", "--url", "http://127.0.0.1:1", "--startup-timeout", "0.5"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not healthy"), std::string::npos) << r.err;
  r = run_whale({"bench-serve", "--concurrency", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--concurrency"), std::string::npos) << r.err;
}

}  // namespace
