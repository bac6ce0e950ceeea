#include "tests/support/subprocess.h"

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

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace mecai {
namespace test_support {
namespace {

constexpr absl::Duration kStopGracePeriod = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// Closes a file descriptor on scope exit. Not thread-safe.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
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

absl::StatusOr<int> OpenOutput(const std::string& path) {
  if (path.empty()) return -1;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", ErrnoText(errno)));
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
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
    sigaction(signal_number, &default_action, nullptr);
  }
  dup2(stdin_fd, STDIN_FILENO);
  if (stdout_fd >= 0) dup2(stdout_fd, STDOUT_FILENO);
  if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
  // Descriptors the test process opened without O_CLOEXEC stay out of the child.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  int error = errno;
  ssize_t ignored = write(error_pipe, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

}  // namespace

Subprocess::~Subprocess() { Stop(); }

void Subprocess::RedirectOutput(std::string stdout_path, std::string stderr_path) {
  stdout_path_ = std::move(stdout_path);
  stderr_path_ = std::move(stderr_path);
}

absl::Status Subprocess::Start(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env) {
  if (pid_ >= 0 && !exited_) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", pid_, " is still running; Stop() it first"));
  }
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");
  absl::StatusOr<std::string> path = FindProgram(argv[0]);
  if (!path.ok()) return path.status();

  // Everything the child needs is prepared here, before fork.
  std::vector<std::string> arguments = argv;
  std::vector<std::string> environment = MergedEnvironment(env);
  std::vector<char*> argument_pointers = CStringArray(arguments);
  std::vector<char*> environment_pointers = CStringArray(environment);
  ScopedFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) {
    return absl::InternalError(absl::StrCat("cannot open /dev/null: ", ErrnoText(errno)));
  }
  absl::StatusOr<int> stdout_fd = OpenOutput(stdout_path_);
  if (!stdout_fd.ok()) return stdout_fd.status();
  ScopedFd stdout_owner(*stdout_fd);
  absl::StatusOr<int> stderr_fd = OpenOutput(stderr_path_);
  if (!stderr_fd.ok()) return stderr_fd.status();
  ScopedFd stderr_owner(*stderr_fd);
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
              dev_null.get(), stdout_owner.get(), stderr_owner.get(), error_write.get());
  }
  // Also from the parent, so that Stop() right after Start() reaches the group.
  setpgid(child, child);
  error_write.Reset();
  int exec_error = 0;
  ssize_t received;
  do {
    received = read(error_read.get(), &exec_error, sizeof(exec_error));
  } while (received < 0 && errno == EINTR);
  pid_ = child;
  exited_ = false;
  wait_status_ = -1;
  if (received == static_cast<ssize_t>(sizeof(exec_error))) {
    int status = 0;
    waitpid(child, &status, 0);
    exited_ = true;
    wait_status_ = status;
    return absl::NotFoundError(absl::StrCat("cannot execute ", *path, ": ", ErrnoText(exec_error)));
  }
  return absl::OkStatus();
}

bool Subprocess::Reap() {
  if (pid_ < 0 || exited_) return true;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT leaves the leader a zombie, so its process-group id cannot be reused while the rest of
  // the group is killed below.
  if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
    return false;
  }
  kill(-pid_, SIGKILL);  // Whatever the child left behind in its group.
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  wait_status_ = status;
  return true;
}

int Subprocess::Stop() {
  if (pid_ < 0) return -1;
  if (Reap()) return wait_status_;
  kill(-pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + kStopGracePeriod;
  while (absl::Now() < deadline) {
    if (Reap()) return wait_status_;
    absl::SleepFor(kPollInterval);
  }
  kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  wait_status_ = status;
  return wait_status_;
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ < 0) return absl::FailedPreconditionError("no process was started");
  const absl::Time deadline = absl::Now() + timeout;
  while (!Reap()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still runs after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
  return wait_status_;
}

bool Subprocess::Running() { return pid_ >= 0 && !Reap(); }

std::string ExitDescription(int wait_status) {
  if (wait_status < 0) return "never started";
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat("wait status ", wait_status);
}

namespace {

// Binds a socket of `type` to 127.0.0.1:`port` (0: any), returns the bound port, and closes it.
absl::StatusOr<int> BindLoopback(int type, int port) {
  ScopedFd socket_fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
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

}  // namespace

absl::StatusOr<int> FreeTcpPort() { return BindLoopback(SOCK_STREAM, 0); }

absl::StatusOr<int> FreeTcpAndUdpPort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    absl::StatusOr<int> port = BindLoopback(SOCK_STREAM, 0);
    if (!port.ok()) return port.status();
    if (BindLoopback(SOCK_DGRAM, *port).ok()) return *port;
  }
  return absl::UnavailableError("no port on 127.0.0.1 is free for both TCP and UDP");
}

absl::Status WaitForTcpPort(const std::string& host, int port, absl::Duration timeout,
                            Subprocess* server) {
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
  std::string last_error = "no attempt made";
  while (true) {
    if (server != nullptr && !server->Running()) {
      return absl::UnavailableError(absl::StrCat("the server for ", host, " port ", port,
                                                 " stopped: ", ExitDescription(server->Stop())));
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
    last_error = ErrnoText(errno);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("nothing accepted connections on ", host, " port ", port, " within ",
                       absl::FormatDuration(timeout), " (", last_error, ")"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace test_support
}  // namespace mecai
