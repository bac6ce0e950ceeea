#include "common/process/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/files.h"

extern char** environ;

namespace mecai {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

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

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
std::atomic<bool> g_sanitizer_reports_abort{kSanitizerBuild};

// Closes a file descriptor on scope exit. Not thread-safe.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  // Gives up the descriptor without closing it.
  void Release() { fd_ = -1; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string ErrnoText(int error) { return std::strerror(error); }

// The executable `program` names: itself when it contains '/', else the first match on PATH.
absl::StatusOr<std::string> FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("cannot execute ", program, ": ", ErrnoText(errno)));
    }
    return program;
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view directory :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(directory, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("program ", program, " is not on PATH"));
}

// The inherited environment with `overrides` ("NAME=value") replacing entries of the same name.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& overrides) {
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text = *entry;
    bool overridden = false;
    for (const std::string& override_entry : overrides) {
      if (name_of(override_entry) == name_of(text)) overridden = true;
    }
    if (!overridden) merged.push_back(std::move(text));
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// `path` opened for appending (created when missing), or -1 when `path` is empty.
absl::StatusOr<int> OpenOutput(const std::string& path) {
  if (path.empty()) return -1;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open log ", path, ": ", ErrnoText(errno)));
  }
  return fd;
}

// Runs in the child between fork and exec: only async-signal-safe calls (POSIX.1-2017 §2.4.3),
// since the parent may have other threads holding locks. Never returns.
[[noreturn]] void ExecChild(pid_t parent, const char* path, char* const* argv, char* const* envp,
                            int stdin_fd, int stdout_fd, int stderr_fd, int error_pipe) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // The parent died before prctl took effect.
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);  // The parent may block SIGTERM; the child must not.
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
    sigaction(signal_number, &default_action, nullptr);
  }
  if (stdin_fd >= 0) dup2(stdin_fd, STDIN_FILENO);
  if (stdout_fd >= 0) dup2(stdout_fd, STDOUT_FILENO);
  if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
  // Descriptors this process opened without O_CLOEXEC stay out of the child.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  int error = errno;
  ssize_t ignored = write(error_pipe, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

}  // namespace

void KillAllChildrenFromSignalHandler() {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) kill(-pid, SIGKILL);
  }
}

bool ChildProcess::SanitizerReportsAbort() { return g_sanitizer_reports_abort.load(); }

void ChildProcess::SetSanitizerReportsAbortForTesting(bool abort) {
  g_sanitizer_reports_abort.store(abort);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::vector<std::string>& environment) {
  Options options;
  options.stdout_path = log_path;
  options.stderr_path = log_path;
  options.environment = environment;
  return Start(argv, options);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  absl::StatusOr<std::string> path = FindProgram(argv[0]);
  if (!path.ok()) return path.status();

  // Everything the child needs is prepared here, before fork.
  std::vector<std::string> arguments = argv;
  std::vector<std::string> environment = MergedEnvironment(options.environment);
  std::vector<char*> argument_pointers = CStringArray(arguments);
  std::vector<char*> environment_pointers = CStringArray(environment);
  ScopedFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) {
    return absl::InternalError(absl::StrCat("cannot open /dev/null: ", ErrnoText(errno)));
  }
  absl::StatusOr<int> stdout_fd = OpenOutput(options.stdout_path);
  if (!stdout_fd.ok()) return stdout_fd.status();
  ScopedFd stdout_owner(*stdout_fd);
  // One descriptor for both when the paths are equal, so that their lines interleave in order.
  absl::StatusOr<int> stderr_fd = options.stderr_path == options.stdout_path
                                      ? absl::StatusOr<int>(-1)
                                      : OpenOutput(options.stderr_path);
  if (!stderr_fd.ok()) return stderr_fd.status();
  ScopedFd stderr_owner(*stderr_fd);
  const int child_stderr =
      options.stderr_path == options.stdout_path ? stdout_owner.get() : stderr_owner.get();
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  }
  ScopedFd error_read(error_pipe[0]);
  ScopedFd error_write(error_pipe[1]);

  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText(errno)));
  if (child == 0) {
    ExecChild(parent, path->c_str(), argument_pointers.data(), environment_pointers.data(),
              dev_null.get(), stdout_owner.get(), child_stderr, error_write.get());
  }
  // Also from the parent, so that Stop() right after Start() reaches the group.
  setpgid(child, child);
  error_write.Reset();
  int exec_error = 0;
  ssize_t received;
  do {
    received = read(error_read.get(), &exec_error, sizeof(exec_error));
  } while (received < 0 && errno == EINTR);
  if (received == static_cast<ssize_t>(sizeof(exec_error))) {
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    return absl::NotFoundError(absl::StrCat("cannot execute ", *path, ": ", ErrnoText(exec_error)));
  }
  Register(child);
  const size_t slash = argv[0].rfind('/');
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(child, slash == std::string::npos ? argv[0] : argv[0].substr(slash + 1),
                       options.stderr_path));
}

ChildProcess::~ChildProcess() { Stop(); }

void ChildProcess::RecordExit(int wait_status) {
  wait_status_ = wait_status;
  exited_ = true;
  Unregister(pid_);
  if (EndedWithSanitizerReport() && SanitizerReportsAbort()) {
    std::fprintf(stderr, "%s (pid %d) %s, a sanitizer report; the end of %s:\n%s\n", name_.c_str(),
                 static_cast<int>(pid_), ExitDescription().c_str(),
                 log_path_.empty() ? "its stderr (above)" : log_path_.c_str(),
                 log_path_.empty() ? "" : TailOfFile(log_path_, 8192).c_str());
    std::abort();
  }
}

bool ChildProcess::Reap() {
  if (exited_) return true;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT leaves the leader a zombie, so its process-group id cannot be reused while the rest of
  // the group is killed below.
  if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
    return false;
  }
  kill(-pid_, SIGKILL);  // Whatever the child left behind in its group.
  int wait_status = 0;
  while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  RecordExit(wait_status);
  return true;
}

bool ChildProcess::Running() { return !Reap(); }

int ChildProcess::ExitCode() const {
  if (!exited_ || !WIFEXITED(wait_status_)) return -1;
  return WEXITSTATUS(wait_status_);
}

int ChildProcess::TerminatingSignal() const {
  if (!exited_ || !WIFSIGNALED(wait_status_)) return 0;
  return WTERMSIG(wait_status_);
}

bool ChildProcess::EndedWithSanitizerReport() const { return ExitCode() == kSanitizerExitCode; }

bool ChildProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(kPollInterval);
  }
  return true;
}

std::string ChildProcess::ExitDescription() const {
  if (!exited_) return "still running";
  if (WIFEXITED(wait_status_)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(wait_status_));
  }
  if (WIFSIGNALED(wait_status_)) {
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status_), " (",
                        strsignal(WTERMSIG(wait_status_)), ")");
  }
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
  while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  RecordExit(wait_status);
}

std::string TailOfFile(const std::string& path, size_t max_bytes) {
  auto contents = ReadFile(path);
  if (!contents.ok()) return "";
  if (contents->size() <= max_bytes) return *contents;
  return contents->substr(contents->size() - max_bytes);
}

absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout,
                            ChildProcess* server) {
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(host, " is not a numeric IP address"));
  }
  sockaddr_storage address;
  std::memcpy(&address, found->ai_addr, found->ai_addrlen);
  const socklen_t address_length = found->ai_addrlen;
  const int family = found->ai_family;
  freeaddrinfo(found);

  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (server != nullptr && !server->Running()) {
      return absl::UnavailableError(absl::StrCat(server->name(), " (the server for ", host, ":",
                                                 port, ") ", server->ExitDescription()));
    }
    ScopedFd socket_fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (socket_fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
    int result = connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), address_length);
    if (result != 0 && errno == EINPROGRESS) {
      pollfd waiting = {socket_fd.get(), POLLOUT, 0};
      if (poll(&waiting, 1, 200) == 1) {
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
        result = error == 0 ? 0 : -1;
        errno = error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (result == 0) return absl::OkStatus();
    const std::string last_error = ErrnoText(errno);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("nothing accepted connections on ", host, ":", port, " within ",
                       absl::FormatDuration(timeout), " (", last_error, ")"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

namespace {

// Binds `socket_fd` (with SO_REUSEPORT first when `reuse_port`) to 127.0.0.1:`port` (0: any) and
// returns the bound port; the caller keeps or closes the socket.
absl::StatusOr<int> BindLoopback(const ScopedFd& socket_fd, int port, bool reuse_port) {
  if (socket_fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  const int on = 1;
  if (reuse_port && setsockopt(socket_fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
    return absl::InternalError(absl::StrCat("SO_REUSEPORT: ", ErrnoText(errno)));
  }
  sockaddr_in address;
  std::memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("bind 127.0.0.1:", port, ": ", ErrnoText(errno)));
  }
  socklen_t length = sizeof(address);
  if (getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", ErrnoText(errno)));
  }
  return static_cast<int>(ntohs(address.sin_port));
}

// Binds a socket of `type` to 127.0.0.1:`port` (0: any), returns the bound port, and closes it.
absl::StatusOr<int> BindLoopback(int type, int port) {
  ScopedFd socket_fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  return BindLoopback(socket_fd, port, /*reuse_port=*/false);
}

}  // namespace

absl::StatusOr<int> PickFreeTcpPort() {
  absl::StatusOr<int> port = BindLoopback(SOCK_STREAM, 0);
  if (!port.ok()) return absl::UnavailableError("cannot find a free TCP port on 127.0.0.1");
  return port;
}

absl::StatusOr<std::unique_ptr<ReservedTcpPort>> ReservedTcpPort::Reserve() {
  ScopedFd socket_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  absl::StatusOr<int> port = BindLoopback(socket_fd, 0, /*reuse_port=*/true);
  if (!port.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot reserve a TCP port on 127.0.0.1: ", port.status().message()));
  }
  const int fd = socket_fd.get();
  socket_fd.Release();
  return std::unique_ptr<ReservedTcpPort>(new ReservedTcpPort(fd, *port));
}

ReservedTcpPort::~ReservedTcpPort() { close(fd_); }

absl::StatusOr<int> PickFreeTcpAndUdpPort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    absl::StatusOr<int> port = BindLoopback(SOCK_STREAM, 0);
    if (!port.ok()) return port.status();
    if (BindLoopback(SOCK_DGRAM, *port).ok()) return *port;
  }
  return absl::UnavailableError("no port on 127.0.0.1 is free for both TCP and UDP");
}

}  // namespace mecai
