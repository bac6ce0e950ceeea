#include "common/process/child_process.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* directory = std::getenv("TEST_TMPDIR");
  return std::string(directory != nullptr ? directory : "/tmp") + "/" + name;
}

std::string ReadWholeFile(const std::string& path) { return ReadFile(path).value_or(""); }

TEST(ChildProcessTest, WaitForExitRecordsTheExitCode) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> process,
                       ChildProcess::Start({"sh", "-c", "exit 3"}, ""));
  ASSERT_TRUE(process->WaitForExit(absl::Seconds(10)));
  EXPECT_EQ(process->ExitCode(), 3);
  EXPECT_EQ(process->TerminatingSignal(), 0);
  EXPECT_EQ(process->ExitDescription(), "exited with status 3");
  EXPECT_FALSE(process->Running());
  EXPECT_EQ(process->name(), "sh");
}

TEST(ChildProcessTest, StopTerminatesARunningChild) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> process,
                       ChildProcess::Start({"sleep", "30"}, ""));
  EXPECT_TRUE(process->Running());
  process->Stop();
  EXPECT_FALSE(process->Running());
  EXPECT_EQ(process->TerminatingSignal(), SIGTERM) << process->ExitDescription();
  EXPECT_EQ(process->ExitCode(), -1);
  process->Stop();  // Idempotent.
  EXPECT_EQ(process->TerminatingSignal(), SIGTERM);
}

TEST(ChildProcessTest, StopKillsAChildThatIgnoresSigterm) {
  const std::string ready = TempPath("ignoring_ready");
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> process,
      ChildProcess::Start({"sh", "-c", "trap '' TERM; touch " + ready + "; sleep 30"}, ""));
  while (access(ready.c_str(), F_OK) != 0) usleep(10000);
  process->Stop(absl::Milliseconds(200));
  EXPECT_EQ(process->TerminatingSignal(), SIGKILL) << process->ExitDescription();
  EXPECT_EQ(process->ExitDescription(), "killed by signal 9 (Killed)");
}

TEST(ChildProcessTest, ChildStartsWithTerminationSignalsUnblocked) {
  sigset_t terminating;
  sigemptyset(&terminating);
  sigaddset(&terminating, SIGTERM);
  sigset_t previous;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &terminating, &previous), 0);
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start({"sleep", "30"}, "");
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_OK(process.status());
  (*process)->Stop();
  EXPECT_EQ((*process)->TerminatingSignal(), SIGTERM) << (*process)->ExitDescription();
}

TEST(ChildProcessTest, EnvironmentOverridesAndSeparateOutputFiles) {
  ASSERT_EQ(setenv("MECAI_X", "inherited", /*overwrite=*/1), 0);
  ChildProcess::Options options;
  options.stdout_path = TempPath("env_out");
  options.stderr_path = TempPath("env_err");
  options.environment = {"MECAI_X=overridden"};
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> process,
      ChildProcess::Start({"sh", "-c", "echo \"$MECAI_X\"; echo oops >&2"}, options));
  ASSERT_TRUE(process->WaitForExit(absl::Seconds(10)));
  unsetenv("MECAI_X");
  EXPECT_EQ(ReadWholeFile(options.stdout_path), "overridden\n");
  EXPECT_EQ(ReadWholeFile(options.stderr_path), "oops\n");
  EXPECT_EQ(process->log_path(), options.stderr_path);
}

TEST(ChildProcessTest, OneLogIsAppendedToInOrder) {
  const std::string log = TempPath("one.log");
  for (const char* word : {"first", "second"}) {
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<ChildProcess> process,
        ChildProcess::Start({"sh", "-c", absl::StrCat("echo ", word, "; echo ", word, " >&2")},
                            log));
    ASSERT_TRUE(process->WaitForExit(absl::Seconds(10)));
  }
  EXPECT_EQ(ReadWholeFile(log), "first\nfirst\nsecond\nsecond\n");
}

TEST(ChildProcessTest, MissingProgramIsNotFound) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start({"mecai-no-such-program"}, "");
  EXPECT_EQ(process.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(process.status().message()), HasSubstr("mecai-no-such-program"));
  EXPECT_EQ(ChildProcess::Start({"/nonexistent/program"}, "").status().code(),
            absl::StatusCode::kNotFound);
}

// docs/BUILD.md "Children fail the test": a child that ends with the sanitizers' exit status
// (.bazelrc exitcode=66) is a sanitizer report.
TEST(ChildProcessTest, AChildExitingWithTheSanitizerStatusIsAReport) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> clean,
                       ChildProcess::Start({"sh", "-c", "exit 1"}, ""));
  ASSERT_TRUE(clean->WaitForExit(absl::Seconds(10)));
  EXPECT_FALSE(clean->EndedWithSanitizerReport());

  if (ChildProcess::SanitizerReportsAbort()) GTEST_SKIP() << "the report would abort this test";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> reported,
                       ChildProcess::Start({"sh", "-c", "exit 66"}, ""));
  ASSERT_TRUE(reported->WaitForExit(absl::Seconds(10)));
  EXPECT_TRUE(reported->EndedWithSanitizerReport());
  EXPECT_EQ(reported->ExitCode(), ChildProcess::kSanitizerExitCode);
}

// The child's report fails the test, through each way a test notices a child's end, with the end
// of the child's log in the failure.
void RunAChildThatReports(const std::string& log, int notice) {
  ChildProcess::SetSanitizerReportsAbortForTesting(true);
  auto child = ChildProcess::Start(
      {"sh", "-c", "echo '==1==ERROR: AddressSanitizer: heap-use-after-free' >&2; exit 66"}, log);
  if (!child.ok()) return;
  switch (notice) {
    case 0:
      (*child)->WaitForExit(absl::Seconds(10));
      break;
    case 1:
      while ((*child)->Running()) usleep(10000);
      break;
    default:
      usleep(500000);
      (*child)->Stop();
      break;
  }
  std::fprintf(stderr, "the test went on\n");
  std::exit(0);
}

TEST(ChildProcessDeathTest, AChildsSanitizerReportAbortsTheTest) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (int notice = 0; notice < 3; ++notice) {
    const std::string log = TempPath(absl::StrCat("reporting-", notice, ".log"));
    EXPECT_DEATH(RunAChildThatReports(log, notice),
                 "sh \\(pid [0-9]+\\) exited with status 66, a sanitizer report; the end of .*"
                 "reporting-[0-9].log:\n==1==ERROR: AddressSanitizer: heap-use-after-free")
        << "notice " << notice;
  }
}

TEST(WaitForTcpPortTest, SucceedsOnceSomethingListens) {
  ASSERT_OK_AND_ASSIGN(int port, PickFreeTcpPort());
  EXPECT_EQ(WaitForTcpPort("127.0.0.1", port, absl::Milliseconds(100)).code(),
            absl::StatusCode::kDeadlineExceeded);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  EXPECT_TRUE(WaitForTcpPort("127.0.0.1", port, absl::Seconds(5)).ok());
  close(listener);
}

TEST(WaitForTcpPortTest, FailsFastWhenTheServerExits) {
  ASSERT_OK_AND_ASSIGN(int port, PickFreeTcpAndUdpPort());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> server,
                       ChildProcess::Start({"sh", "-c", "exit 7"}, ""));
  absl::Status status = WaitForTcpPort("127.0.0.1", port, absl::Seconds(30), server.get());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("sh (the server for 127.0.0.1:"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("exited with status 7"));
}

// A socket bound to 127.0.0.1:`port`, with SO_REUSEPORT when `reuse_port`; -1 when bind(2) fails.
int BoundSocket(int port, bool reuse_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return fd;
  close(fd);
  return -1;
}

TEST(ReservedTcpPortTest, OnlyAServerWithReusePortBindsTheHeldPortAndItAloneIsReached) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReservedTcpPort> reserved, ReservedTcpPort::Reserve());
  const int port = reserved->port();
  ASSERT_GT(port, 0);
  // Another test's server, or PickFreeTcpPort's socket, cannot have it.
  const int intruder = BoundSocket(port, /*reuse_port=*/false);
  EXPECT_EQ(intruder, -1);
  if (intruder >= 0) close(intruder);
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(int picked, PickFreeTcpPort());
    EXPECT_NE(picked, port);
  }
  // Nothing listens yet: a connection is refused, not held by the reserving socket.
  EXPECT_EQ(WaitForTcpPort("127.0.0.1", port, absl::Milliseconds(100)).code(),
            absl::StatusCode::kDeadlineExceeded);
  // The server it is held for (nginx's `listen ... reuseport`) binds beside it and is reached.
  const int server = BoundSocket(port, /*reuse_port=*/true);
  ASSERT_GE(server, 0);
  ASSERT_EQ(listen(server, 4), 0);
  EXPECT_TRUE(WaitForTcpPort("127.0.0.1", port, absl::Seconds(5)).ok());
  close(server);
  // Released, the port is anyone's again.
  reserved.reset();
  const int after = BoundSocket(port, /*reuse_port=*/false);
  EXPECT_GE(after, 0);
  if (after >= 0) close(after);
}

TEST(WaitForTcpPortTest, RejectsNamesThatAreNotAddresses) {
  EXPECT_EQ(WaitForTcpPort("localhost", 80, absl::Seconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mecai
