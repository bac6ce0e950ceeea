#include "tests/support/subprocess.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace test_support {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* directory = std::getenv("TEST_TMPDIR");
  return std::string(directory != nullptr ? directory : "/tmp") + "/" + name;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream input(path);
  std::stringstream contents;
  contents << input.rdbuf();
  return contents.str();
}

TEST(SubprocessTest, WaitReturnsTheExitCode) {
  Subprocess process;
  ASSERT_TRUE(process.Start({"sh", "-c", "exit 3"}).ok());
  absl::StatusOr<int> status = process.Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_EQ(ExitDescription(*status), "exited with code 3");
  EXPECT_FALSE(process.Running());
}

TEST(SubprocessTest, StopTerminatesARunningChild) {
  Subprocess process;
  ASSERT_TRUE(process.Start({"sleep", "30"}).ok());
  EXPECT_TRUE(process.Running());
  int status = process.Stop();
  ASSERT_TRUE(WIFSIGNALED(status)) << ExitDescription(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(process.Stop(), status);  // Idempotent.
}

TEST(SubprocessTest, StopKillsAChildThatIgnoresSigterm) {
  Subprocess process;
  std::string ready = TempPath("ignoring_ready");
  ASSERT_TRUE(process.Start({"sh", "-c", "trap '' TERM; touch " + ready + "; sleep 30"}).ok());
  while (access(ready.c_str(), F_OK) != 0) usleep(10000);
  int status = process.Stop();
  ASSERT_TRUE(WIFSIGNALED(status)) << ExitDescription(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(SubprocessTest, ChildStartsWithTerminationSignalsUnblocked) {
  sigset_t terminating;
  sigemptyset(&terminating);
  sigaddset(&terminating, SIGTERM);
  sigset_t previous;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &terminating, &previous), 0);
  Subprocess process;
  absl::Status started = process.Start({"sleep", "30"});
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(started.ok()) << started;
  int status = process.Stop();
  ASSERT_TRUE(WIFSIGNALED(status)) << ExitDescription(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(SubprocessTest, EnvironmentOverridesAndRedirectedOutput) {
  Subprocess process;
  const std::string out = TempPath("env_out");
  const std::string err = TempPath("env_err");
  process.RedirectOutput(out, err);
  ASSERT_TRUE(
      process.Start({"sh", "-c", "echo \"$MECAI_X\"; echo oops >&2"}, {"MECAI_X=overridden"}).ok());
  ASSERT_TRUE(process.Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(ReadWholeFile(out), "overridden\n");
  EXPECT_EQ(ReadWholeFile(err), "oops\n");
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  Subprocess process;
  absl::Status status = process.Start({"mecai-no-such-program"});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("mecai-no-such-program"));
  EXPECT_EQ(process.Start({"/nonexistent/program"}).code(), absl::StatusCode::kNotFound);
}

TEST(SubprocessTest, StartTwiceIsRefusedWhileRunning) {
  Subprocess process;
  ASSERT_TRUE(process.Start({"sleep", "30"}).ok());
  EXPECT_EQ(process.Start({"sleep", "30"}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WaitForTcpPortTest, SucceedsOnceSomethingListens) {
  absl::StatusOr<int> port = FreeTcpPort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(WaitForTcpPort("127.0.0.1", *port, absl::Milliseconds(100)).code(),
            absl::StatusCode::kDeadlineExceeded);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(*port));
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  EXPECT_TRUE(WaitForTcpPort("127.0.0.1", *port, absl::Seconds(5)).ok());
  close(listener);
}

TEST(WaitForTcpPortTest, FailsFastWhenTheServerExits) {
  absl::StatusOr<int> port = FreeTcpAndUdpPort();
  ASSERT_TRUE(port.ok()) << port.status();
  Subprocess server;
  ASSERT_TRUE(server.Start({"sh", "-c", "exit 7"}).ok());
  absl::Status status = WaitForTcpPort("127.0.0.1", *port, absl::Seconds(30), &server);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("exited with code 7"));
}

TEST(WaitForTcpPortTest, RejectsNamesThatAreNotAddresses) {
  EXPECT_EQ(WaitForTcpPort("localhost", 80, absl::Seconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace test_support
}  // namespace mecai
