// Starting and stopping child processes (the demo cluster, tests that need real daemons). Each
// child runs in its own process group so that stopping it also stops what it started.
#ifndef MECAI_COMMON_CHILD_PROCESS_H_
#define MECAI_COMMON_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mecai {

// Not thread-safe; one owner. Destruction stops the child.
class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with `argv`, stdout and stderr appended to `log_path`
  // (or inherited when empty), stdin from /dev/null. `environment` entries ("NAME=value") are
  // added to this process's environment.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::vector<std::string>& environment = {});

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }

  // True while the child has not exited; records the exit status when it has.
  bool Running();
  // The exit status once the child has exited normally; -1 while running or when it was killed.
  int ExitCode() const;
  // Waits up to `timeout` for the child to exit by itself; false if it is still running.
  bool WaitForExit(absl::Duration timeout);
  // A sentence about how the child ended ("exited with status 1", "killed by signal 9").
  std::string ExitDescription() const;

  // SIGTERM to the group, then SIGKILL after `grace`; waits for the child. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(3));

  // The exit status every sanitizer of this build reports with (.bazelrc exitcode=66).
  static constexpr int kSanitizerExitCode = 66;

 private:
  // Records the child's end. In a sanitizer build, a child that ended with a sanitizer report
  // (kSanitizerExitCode) aborts this process with the end of the child's log: the report fails
  // the test even when the child's death changes nothing the test checks.
  void RecordExit(int wait_status);

  ChildProcess(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string name_;
  std::string log_path_;
  bool exited_ = false;
  int wait_status_ = 0;
};

// Kills (SIGKILL) the process group of every child still registered. Async-signal-safe: for use
// from a SIGINT/SIGTERM handler before _exit.
void KillAllChildrenFromSignalHandler();

// The last `max_bytes` of a file, for error messages about a failed child.
std::string TailOfFile(const std::string& path, size_t max_bytes = 2000);

// Waits until a TCP connection to host:port succeeds or `timeout` passes.
absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout);

// Asks the kernel for a free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
absl::StatusOr<int> PickFreeTcpPort();

}  // namespace mecai

#endif  // MECAI_COMMON_CHILD_PROCESS_H_
