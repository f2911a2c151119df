// A `whale serve` child process for tools that need a server of their own (bench-serve
// --spawn-model): started on a free port, stopped with SIGTERM (the server's graceful path) when
// the owner is done or destroyed.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace whale::cli {

class ServerProcess {
 public:
  // Runs this same binary as `whale serve --port 0 <serve_args>` and waits (at most
  // `startup_timeout_s`) for it to print the address it listens on. Throws whale::Error when it
  // exits or stays silent, with the tail of its stderr.
  ServerProcess(const std::vector<std::string>& serve_args, double startup_timeout_s);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }  // e.g. http://127.0.0.1:40123

  // SIGTERM, then SIGKILL after `grace_s`; idempotent.
  void stop(double grace_s = 15);

 private:
  std::string stderr_tail() const;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_path_;
  std::string url_;
};

}  // namespace whale::cli
