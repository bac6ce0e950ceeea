// Child processes for tests that run real components (openssl s_server, dnsmasq, nginx, the
// cluster's own binaries; ARCHITECTURE.md §9 "real components in tests"), and the TCP helpers that
// go with them: a free port to hand a server, and a wait until that server accepts connections.
#ifndef MECAI_TESTS_SUPPORT_SUBPROCESS_H_
#define MECAI_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mecai {
namespace test_support {

// One child process in its own process group. The destructor stops it (see Stop), so a test that
// fails half-way leaves nothing running. The child also receives SIGKILL if the thread that started
// it exits (Linux PR_SET_PDEATHSIG), so start children from the test's main thread.
//
// Not thread-safe.
class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Sends the child's stdout and stderr to these files (created or truncated) instead of the
  // test's own. Either may be empty to keep it. Takes effect at the next Start().
  void RedirectOutput(std::string stdout_path, std::string stderr_path);

  // Starts argv[0] (searched on PATH unless it contains '/') with arguments argv[1..]. The child
  // inherits this process's environment plus `env` ("NAME=value"; these override inherited values
  // of the same name), reads stdin from /dev/null, starts with an empty signal mask and default
  // signal dispositions, and runs in a new process group; other descriptors are not inherited.
  // NOT_FOUND when the program does not exist or cannot be executed; FAILED_PRECONDITION when a
  // child is already running.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {});

  // Stops the child's process group: SIGTERM, then SIGKILL if it has not exited after 2 s. Reaps
  // it and returns its wait status (as from waitpid; see ExitDescription), or -1 if no child was
  // started. Idempotent: a second call returns the same status.
  int Stop();

  // Waits up to `timeout` for the child to exit on its own and returns its wait status.
  // DEADLINE_EXCEEDED if it is still running; FAILED_PRECONDITION if none was started.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // True while the child runs. Reaps it (without blocking) if it has exited.
  bool Running();

  // The child's process id (also its process-group id), or -1.
  pid_t pid() const { return pid_; }

 private:
  // Reaps the child without blocking; true if it has exited (status in wait_status_).
  bool Reap();

  std::string stdout_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int wait_status_ = -1;
};

// "exited with code 3" / "killed by signal 9 (Killed)" for a wait status.
std::string ExitDescription(int wait_status);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). Another
// process may take it before the caller binds; prefer servers that bind port 0 and report it.
absl::StatusOr<int> FreeTcpPort();

// The same, free for both TCP and UDP on 127.0.0.1 (for DNS servers, which bind both).
absl::StatusOr<int> FreeTcpAndUdpPort();

// Waits until a TCP connection to `host` (a numeric IPv4 or IPv6 address) port `port` succeeds,
// retrying every 20 ms. DEADLINE_EXCEEDED after `timeout`. When `server` is given and its process
// exits first, fails at once with UNAVAILABLE naming its exit status.
absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout,
                            Subprocess* server = nullptr);

}  // namespace test_support
}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_SUBPROCESS_H_
