#include "common/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"

extern char** environ;

namespace mecai {
namespace {

// Process groups of live children, read by the signal handler (atomics only).
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void Register(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void Unregister(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace

void KillAllChildrenFromSignalHandler() {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) kill(-pid, SIGKILL);
  }
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::vector<std::string>& environment) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> arguments;
  for (const std::string& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);
  std::vector<std::string> environment_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) environment_strings.push_back(*entry);
  for (const std::string& entry : environment) environment_strings.push_back(entry);
  std::vector<char*> environment_pointers;
  for (std::string& entry : environment_strings) environment_pointers.push_back(&entry[0]);
  environment_pointers.push_back(nullptr);
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open log ", log_path, ": ", std::strerror(errno)));
    }
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  // A pipe whose write end closes on exec tells the parent whether exec succeeded.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);  // The parent may block SIGTERM; the child must not.
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    execvpe(arguments[0], arguments.data(), environment_pointers.data());
    int error = errno;
    ssize_t ignored = write(exec_pipe[1], &error, sizeof(error));
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);
  close(exec_pipe[1]);
  if (log_fd >= 0) close(log_fd);
  if (null_fd >= 0) close(null_fd);
  int exec_error = 0;
  ssize_t n = read(exec_pipe[0], &exec_error, sizeof(exec_error));
  close(exec_pipe[0]);
  if (n == sizeof(exec_error)) {
    waitpid(pid, nullptr, 0);
    return absl::NotFoundError(
        absl::StrCat("cannot run ", argv[0], ": ", std::strerror(exec_error)));
  }
  Register(pid);
  const size_t slash = argv[0].rfind('/');
  return std::unique_ptr<ChildProcess>(new ChildProcess(
      pid, slash == std::string::npos ? argv[0] : argv[0].substr(slash + 1), log_path));
}

ChildProcess::~ChildProcess() { Stop(); }

void ChildProcess::RecordExit(int wait_status) {
  wait_status_ = wait_status;
  exited_ = true;
  Unregister(pid_);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  if (ExitCode() == kSanitizerExitCode) {
    std::fprintf(stderr, "%s (pid %d) %s, a sanitizer report; the end of %s:\n%s\n", name_.c_str(),
                 static_cast<int>(pid_), ExitDescription().c_str(), log_path_.c_str(),
                 TailOfFile(log_path_, 8192).c_str());
    std::abort();
  }
#endif
}

bool ChildProcess::Running() {
  if (exited_) return false;
  int wait_status = 0;
  pid_t result = waitpid(pid_, &wait_status, WNOHANG);
  if (result == pid_) {
    RecordExit(wait_status);
    kill(-pid_, SIGKILL);  // Anything the child left in its group.
  }
  return !exited_;
}

int ChildProcess::ExitCode() const {
  if (!exited_ || !WIFEXITED(wait_status_)) return -1;
  return WEXITSTATUS(wait_status_);
}

bool ChildProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string ChildProcess::ExitDescription() const {
  if (!exited_) return "still running";
  if (WIFEXITED(wait_status_))
    return absl::StrCat("exited with status ", WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status_));
  return "ended";
}

void ChildProcess::Stop(absl::Duration grace) {
  if (!Running()) return;
  kill(-pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (!Running()) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  int wait_status = 0;
  waitpid(pid_, &wait_status, 0);
  RecordExit(wait_status);
}

std::string TailOfFile(const std::string& path, size_t max_bytes) {
  auto contents = ReadFile(path);
  if (!contents.ok()) return "";
  if (contents->size() <= max_bytes) return *contents;
  return contents->substr(contents->size() - max_bytes);
}

absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", host));
  }
  while (true) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (connected) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("nothing accepted connections on ", host, ":",
                                                      port, " within ",
                                                      absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(25));
  }
}

absl::StatusOr<int> PickFreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::UnavailableError("cannot find a free TCP port on 127.0.0.1");
  }
  close(fd);
  return static_cast<int>(ntohs(address.sin_port));
}

}  // namespace mecai
