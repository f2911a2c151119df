#include "cli/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/error.h"

namespace whale::cli {

namespace {

using Clock = std::chrono::steady_clock;

// `whale serve` announces itself with "whale serve: listening on http://HOST:PORT (...)".
std::string listening_url(const std::string& line) {
  const std::string marker = "listening on ";
  const size_t at = line.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = at + marker.size();
  const size_t end = line.find(' ', start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

ServerProcess::ServerProcess(const std::vector<std::string>& serve_args, double startup_timeout_s) {
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) fail("cannot find the whale binary through /proc/self/exe: ", ec.message());
  std::string tmpl = (std::filesystem::temp_directory_path() / "whale-serve-XXXXXX.log").string();
  const int err_fd = ::mkstemps(tmpl.data(), 4);
  if (err_fd < 0) fail("cannot create a log file ", tmpl, ": ", std::strerror(errno));
  stderr_path_ = tmpl;
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) fail("pipe: ", std::strerror(errno));

  std::vector<std::string> args = {self, "serve", "--port", "0"};
  args.insert(args.end(), serve_args.begin(), serve_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) fail("fork: ", std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_fd);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(self.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_fd);
  stdout_fd_ = out_pipe[0];

  // Read stdout line by line until the address appears, the child dies, or time runs out.
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(startup_timeout_s * 1000));
  std::string pending;
  while (url_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      stop(2);
      fail("whale serve did not report its address within ", startup_timeout_s, " s; its stderr ends:\n",
           stderr_tail());
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stop(2);
      fail("whale serve exited before listening; its stderr ends:\n", stderr_tail());
    }
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; url_.empty() && (nl = pending.find('\n')) != std::string::npos;) {
      url_ = listening_url(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
}

ServerProcess::~ServerProcess() {
  stop();
  if (!stderr_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(stderr_path_, ec);
  }
}

void ServerProcess::stop(double grace_s) {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

std::string ServerProcess::stderr_tail() const {
  std::ifstream in(stderr_path_, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace whale::cli
