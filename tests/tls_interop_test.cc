// Interoperability of the MECAI extension with stock OpenSSL tools (docs/TLS_EXTENSION.md §5):
// `openssl s_client -tls1_2 -serverinfo 65280` probes `mecai s_server` and receives the VD list;
// `mecai s_client`, with its default request, reads VDs from `openssl s_server -serverinfo FILE`
// written by `mecai serverinfo`. VDs are the golden vectors of testdata/vd/.
#include <stdlib.h>

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "common/process/child_process.h"
#include "common/tls_extension/mecai_extension.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Runfile(const std::string& path) {
  const char* runfiles = getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/", path);
}
std::string Vector(const std::string& name) { return Runfile("testdata/vd/" + name); }
std::string TempDir() {
  const char* temporary = getenv("TEST_TMPDIR");
  return temporary != nullptr ? temporary : "/tmp";
}

struct Output {
  int exit_code;
  std::string text;
};

// Runs a shell command with stdin from /dev/null; stdout and stderr together. A ChildProcess, so
// that a sanitizer report of a `mecai` it runs fails the test (docs/BUILD.md "Children fail the
// test").
Output RunShell(const std::string& command) {
  static int counter = 0;
  const std::string log = absl::StrCat(TempDir(), "/shell-", ++counter, ".log");
  auto process = ChildProcess::Start({"sh", "-c", command}, log);
  if (!process.ok()) return {-1, process.status().ToString()};
  if (!(*process)->WaitForExit(absl::Seconds(60))) return {-1, "still running after 60 s"};
  return {(*process)->ExitCode(), ReadFile(log).value_or("")};
}

int ReadPort(const std::string& port_file) {
  for (int i = 0; i < 100; ++i) {
    auto contents = ReadFile(port_file);
    if (contents.ok() && !contents->empty()) return atoi(contents->c_str());
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

TEST(TlsInteropTest, OpensslClientProbesMecaiServer) {
  const std::string port_file = TempDir() + "/s_server.port";
  auto server = ChildProcess::Start(
      {Runfile("cli/mecai"), "s_server", "--cert", Vector("server-leaf.pem"), "--key",
       Vector("server-leaf.key.pem"), "--vd", Vector("valid.vd"), "--port-file", port_file},
      TempDir() + "/s_server.log");
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = ReadPort(port_file);
  ASSERT_GT(port, 0) << TailOfFile(TempDir() + "/s_server.log");
  Output probe = RunShell(
      absl::StrCat("openssl s_client -tls1_2 -serverinfo 65280 -connect 127.0.0.1:", port));
  const std::string begin = "-----BEGIN SERVERINFO FOR EXTENSION 65280-----\n";
  const size_t start = probe.text.find(begin);
  const size_t end = probe.text.find("-----END SERVERINFO FOR EXTENSION 65280-----");
  ASSERT_NE(start, std::string::npos) << probe.text;
  ASSERT_NE(end, std::string::npos);
  std::string base64 = probe.text.substr(start + begin.size(), end - start - begin.size());
  base64.erase(std::remove(base64.begin(), base64.end(), '\n'), base64.end());
  std::string extension;
  ASSERT_TRUE(absl::Base64Unescape(base64, &extension));
  // OpenSSL prints the extension with its type and length (RFC 8446 §4.2 Extension).
  ASSERT_GT(extension.size(), 4u);
  EXPECT_EQ(extension.substr(0, 2), std::string("\xff\x00", 2));
  auto vds = DecodeVouchingDataList(extension.substr(4));
  ASSERT_TRUE(vds.ok()) << vds.status();
  auto expected = ReadFile(Vector("valid.vd"));
  ASSERT_TRUE(expected.ok());
  EXPECT_THAT(*vds, ElementsAre(*expected));
}

class MecaiClientAgainstOpensslServer : public ::testing::TestWithParam<std::string> {};

TEST_P(MecaiClientAgainstOpensslServer, ReadsTheServerinfoVds) {
  const std::string serverinfo = TempDir() + "/vd-" + GetParam() + ".serverinfo";
  Output written = RunShell(absl::StrCat(Runfile("cli/mecai"), " serverinfo --vd ",
                                         Vector("valid.vd"), " --out ", serverinfo));
  ASSERT_EQ(written.exit_code, 0) << written.text;
  auto pem = ReadFile(serverinfo);
  ASSERT_TRUE(pem.ok());
  EXPECT_THAT(*pem, HasSubstr("-----BEGIN SERVERINFOV2 FOR MECAI VOUCHING DATA-----"));
  auto port = PickFreeTcpPort();
  ASSERT_TRUE(port.ok());
  // s_server stops at end of input; the sleep keeps its stdin open.
  auto server = ChildProcess::Start(
      {"sh", "-c",
       absl::StrCat("sleep 60 | exec openssl s_server -accept 127.0.0.1:", *port, " -cert ",
                    Vector("server-leaf.pem"), " -key ", Vector("server-leaf.key.pem"),
                    " -serverinfo ", serverinfo)},
      TempDir() + "/openssl-s_server-" + GetParam() + ".log");
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(WaitForTcpPort("127.0.0.1", *port, absl::Seconds(10)).ok());
  // The golden VD vouches for www.example.com:443; this server listens on another port.
  const std::string client =
      absl::StrCat(Runfile("cli/mecai"), " s_client --connect 127.0.0.1:", *port, " --va-list ",
                   Vector("va-list.textproto"), " --max-age 1000000h --tls ", GetParam(),
                   " --trust-list mozilla");
  // The default: mecai_vouching empty, which OpenSSL's serverinfo server accepts, and
  // mecai_vouching_request, which it ignores (docs/TLS_EXTENSION.md §5).
  Output valid = RunShell(client + " --servername www.example.com --serverport 443");
  EXPECT_EQ(valid.exit_code, 0) << valid.text;
  EXPECT_THAT(valid.text, HasSubstr("MECAI: VALID, vouched by va-example"));
  Output everything = RunShell(client + " --servername www.example.com --serverport 443 --ask-all");
  EXPECT_EQ(everything.exit_code, 0) << everything.text;
  EXPECT_THAT(everything.text, HasSubstr("MECAI: VALID, vouched by va-example"));
  // The VD vouches for www.example.com only, and for port 443 only.
  Output other = RunShell(client + " --servername other.example.com --serverport 443");
  EXPECT_EQ(other.exit_code, 3) << other.text;
  EXPECT_THAT(other.text, HasSubstr("the VD vouches for www.example.com, not other.example.com"));
  Output other_port = RunShell(client + " --servername www.example.com");
  EXPECT_EQ(other_port.exit_code, 3) << other_port.text;
  EXPECT_THAT(other_port.text, HasSubstr(absl::StrCat("the VD vouches for port 443, not ", *port)));
}

INSTANTIATE_TEST_SUITE_P(TlsVersions, MecaiClientAgainstOpensslServer,
                         ::testing::Values("1.2", "1.3"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "1.2" ? std::string("Tls12") : std::string("Tls13");
                         });

}  // namespace
}  // namespace mecai
