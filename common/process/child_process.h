// Starting and stopping child processes: the demo cluster's services, and every real component a
// test runs (the cluster's own binaries, nginx, dnsmasq, openssl s_server; ARCHITECTURE.md §9
// "real components in tests"), with the TCP helpers that go with them: a free port to hand a
// server, and a wait until that server accepts connections. Each child runs in its own process
// group so that stopping it also stops what it started.
//
// Children fail the test (docs/BUILD.md "Sanitizers"): in a sanitizer build, a child that ends
// with a sanitizer report (exit status kSanitizerExitCode) aborts this process, whichever of
// Running, WaitForExit or Stop notices its end.
#ifndef MECAI_COMMON_PROCESS_CHILD_PROCESS_H_
#define MECAI_COMMON_PROCESS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mecai {

// Not thread-safe; one owner. Destruction stops the child (see Stop).
class ChildProcess {
 public:
  struct Options {
    // The child's stdout and stderr are appended to these files (created when missing; one file
    // when both paths are equal). Empty: this process's own.
    std::string stdout_path;
    std::string stderr_path;
    // Entries "NAME=value" that replace or add to this process's environment in the child.
    std::vector<std::string> environment;
  };

  // Starts argv[0] (searched on PATH unless it contains '/') with arguments argv[1..], as
  // `options` say. The child reads stdin from /dev/null, starts with an empty signal mask and
  // default signal dispositions, inherits no descriptor but 0, 1 and 2, and receives SIGKILL when
  // the thread that started it exits (Linux PR_SET_PDEATHSIG): start children from a thread that
  // outlives them, such as the main thread. NOT_FOUND when the program does not exist or cannot be
  // executed.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const Options& options);
  // The same with stdout and stderr appended to `log_path` (inherited when empty).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::vector<std::string>& environment = {});

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The child's process id, also its process-group id.
  pid_t pid() const { return pid_; }
  // The program's file name, without its directory.
  const std::string& name() const { return name_; }
  // The file the child's stderr goes to (its log, where a sanitizer writes its report), or empty.
  const std::string& log_path() const { return log_path_; }

  // True while the child has not exited; records the exit status when it has.
  bool Running();
  // The exit status once the child has exited normally; -1 while running or when it was killed.
  int ExitCode() const;
  // The signal that ended the child; 0 while running or when it exited by itself.
  int TerminatingSignal() const;
  // Waits up to `timeout` for the child to exit by itself; false if it is still running.
  bool WaitForExit(absl::Duration timeout);
  // A sentence about how the child ended ("exited with status 1", "killed by signal 9 (Killed)").
  std::string ExitDescription() const;
  // True once the child has ended with kSanitizerExitCode, a sanitizer's report.
  bool EndedWithSanitizerReport() const;

  // SIGTERM to the group, then SIGKILL after `grace`; waits for the child. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(3));

  // The exit status every sanitizer of this build reports with (.bazelrc exitcode=66).
  static constexpr int kSanitizerExitCode = 66;

  // Whether a child that ends with a sanitizer report aborts this process: true in a sanitizer
  // build. Tests of that rule turn it on in every build.
  static bool SanitizerReportsAbort();
  static void SetSanitizerReportsAbortForTesting(bool abort);

 private:
  ChildProcess(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}

  // Reaps the child without blocking when it has exited; true once it has.
  bool Reap();
  // Records the child's end. When SanitizerReportsAbort(), a child that ended with a sanitizer
  // report aborts this process with the end of the child's log: the report fails the test even
  // when the child's death changes nothing the test checks.
  void RecordExit(int wait_status);

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

// Waits until a TCP connection to `host` (a numeric IPv4 or IPv6 address) port `port` succeeds,
// retrying every 20 ms; DEADLINE_EXCEEDED after `timeout`. When `server` is given and it ends
// first, fails at once with UNAVAILABLE saying how it ended.
absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout,
                            ChildProcess* server = nullptr);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
// Another process may take it before the caller binds; prefer servers that bind port 0 and report
// it.
absl::StatusOr<int> PickFreeTcpPort();

// The same, free for both TCP and UDP on 127.0.0.1 (for DNS servers, which bind both).
absl::StatusOr<int> PickFreeTcpAndUdpPort();

// A TCP port held, for as long as this object lives, for a server that binds it with SO_REUSEPORT
// (nginx's `listen ... reuseport`): a socket bound to 127.0.0.1 on it with SO_REUSEPORT that never
// listens. Meanwhile the kernel gives the port on 127.0.0.1 or the wildcard address to no other
// bind(2), of port 0 or of the port itself, and to no outgoing connection, a server that binds it
// with SO_REUSEPORT as the same user listens beside it, and no connection reaches the holding
// socket. Without PickFreeTcpPort's window, in which a server of another test could take the port
// and answer in place of the caller's.
class ReservedTcpPort {
 public:
  static absl::StatusOr<std::unique_ptr<ReservedTcpPort>> Reserve();
  ~ReservedTcpPort();
  ReservedTcpPort(const ReservedTcpPort&) = delete;
  ReservedTcpPort& operator=(const ReservedTcpPort&) = delete;

  int port() const { return port_; }

 private:
  ReservedTcpPort(int fd, int port) : fd_(fd), port_(port) {}
  const int fd_;
  const int port_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_PROCESS_CHILD_PROCESS_H_
