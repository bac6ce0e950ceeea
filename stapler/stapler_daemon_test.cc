// The stapler's configuration is checked at start (ARCHITECTURE.md §10): every bad field named,
// the serverinfo fields included, and the binary exits 1 on a bad one.
#include "stapler/stapler_daemon.h"

#include <stdlib.h>

#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

std::string TempDirectory() {
  const char* directory = getenv("TEST_TMPDIR");
  return directory != nullptr ? directory : "/tmp";
}

// Valid as far as ValidateStaplerConfig sees (it reads no file).
v1::StaplerConfig ValidConfig() {
  v1::StaplerConfig config;
  config.set_va_list_file("/etc/mecai/va-list.textproto");
  config.set_hostname("www.example.com");
  config.set_port(443);
  config.set_trust_list("mozilla");
  config.set_certificate_file("/etc/ssl/www.pem");
  config.set_key_file("/etc/ssl/www.key");
  config.set_cache_directory("/var/lib/mecai/stapler");
  config.set_serverinfo_file("/var/lib/mecai/stapler/www.serverinfo");
  config.add_reload_command("/usr/sbin/nginx");
  config.add_reload_command("-s");
  config.add_reload_command("reload");
  config.set_reload_timeout_ms(20000);
  config.set_metrics_address("127.0.0.1:0");
  return config;
}

TEST(ValidateStaplerConfigTest, AcceptsAValidConfig) {
  ASSERT_OK(ValidateStaplerConfig(ValidConfig(), "stapler.textproto"));
  v1::StaplerConfig without_serverinfo = ValidConfig();
  without_serverinfo.clear_serverinfo_file();
  without_serverinfo.clear_reload_command();
  without_serverinfo.clear_reload_timeout_ms();
  ASSERT_OK(ValidateStaplerConfig(without_serverinfo, "stapler.textproto"));
  // Two endpoints of one VA.
  v1::StaplerConfig two_endpoints = ValidConfig();
  for (const char* address : {"vs-1.example.net:443", "vs-2.example.net:443"}) {
    auto* server = two_endpoints.add_vouching_servers();
    server->set_va_id("va-a");
    server->mutable_vouching_server()->set_address(address);
  }
  ASSERT_OK(ValidateStaplerConfig(two_endpoints, "stapler.textproto"));
}

TEST(ValidateStaplerConfigTest, NamesEveryBadField) {
  const struct {
    std::string name;
    std::function<void(v1::StaplerConfig&)> change;
    std::string error;
  } kCases[] = {
      {"no hostname", [](v1::StaplerConfig& c) { c.clear_hostname(); }, "hostname: is required"},
      {"port 0", [](v1::StaplerConfig& c) { c.set_port(0); }, "port: must be 1..65535"},
      {"relative serverinfo file",
       [](v1::StaplerConfig& c) { c.set_serverinfo_file("www.serverinfo"); },
       "serverinfo_file: must be an absolute path"},
      {"next serverinfo file without a next certificate",
       [](v1::StaplerConfig& c) { c.set_next_serverinfo_file("/var/lib/next.serverinfo"); },
       "next_serverinfo_file: needs next_certificate_file"},
      {"one file for both certificates",
       [](v1::StaplerConfig& c) {
         c.set_next_certificate_file("/etc/ssl/next.pem");
         c.set_next_serverinfo_file(c.serverinfo_file());
       },
       "next_serverinfo_file: must differ from serverinfo_file"},
      {"code point", [](v1::StaplerConfig& c) { c.set_serverinfo_extension_type(70000); },
       "serverinfo_extension_type: must be a TLS extension code point"},
      {"reload without a file", [](v1::StaplerConfig& c) { c.clear_serverinfo_file(); },
       "reload_command: needs serverinfo_file"},
      {"reload through PATH", [](v1::StaplerConfig& c) { c.set_reload_command(0, "nginx"); },
       "reload_command: the program must be an absolute path (it runs without a shell and "
       "without PATH), not 'nginx'"},
      {"reload through a shell line",
       [](v1::StaplerConfig& c) {
         c.clear_reload_command();
         c.add_reload_command("nginx -s reload");
       },
       "not 'nginx -s reload'"},
      {"timeout without a command", [](v1::StaplerConfig& c) { c.clear_reload_command(); },
       "reload_timeout_ms: needs reload_command"},
      {"unbounded timeout", [](v1::StaplerConfig& c) { c.set_reload_timeout_ms(600001); },
       "reload_timeout_ms: must be at most 600000"},
      {"metrics address", [](v1::StaplerConfig& c) { c.set_metrics_address("localhost"); },
       "metrics_address: must be host:port"},
      {"metrics port file without an address",
       [](v1::StaplerConfig& c) {
         c.clear_metrics_address();
         c.set_metrics_port_file("/run/stapler.metrics-port");
       },
       "metrics_port_file: needs metrics_address"},
      {"endpoint without an address",
       [](v1::StaplerConfig& c) { c.add_vouching_servers()->set_va_id("va-a"); },
       "vouching_servers: VA 'va-a': an endpoint needs an address"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    v1::StaplerConfig config = ValidConfig();
    c.change(config);
    absl::Status valid = ValidateStaplerConfig(config, "stapler.textproto");
    EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(valid.message()), HasSubstr("invalid config stapler.textproto: "));
    EXPECT_THAT(std::string(valid.message()), HasSubstr(c.error));
  }
}

// What only the running machine can tell, before anything else is loaded.
TEST(BuildStaplerDaemonTest, ChecksTheServerinfoDirectoryAndTheReloadProgram) {
  v1::StaplerConfig config = ValidConfig();
  config.set_serverinfo_file(TempDirectory() + "/missing/www.serverinfo");
  EXPECT_THAT(BuildStaplerDaemon(config, SystemClock::Get()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("serverinfo_file: the directory " + TempDirectory() +
                                 "/missing/ does not exist")));
  config.set_serverinfo_file(TempDirectory() + "/www.serverinfo");
  config.set_reload_command(0, "/nonexistent/nginx");
  EXPECT_THAT(BuildStaplerDaemon(config, SystemClock::Get()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reload_command: /nonexistent/nginx is not an executable "
                                 "program")));
}

// The binary stops at start with exit status 78 (EX_CONFIG, docs/ARCHITECTURE.md §10 "Exit
// codes") and one line naming the field.
TEST(StaplerBinaryTest, ABadConfigExitsExConfigNamingTheField) {
  v1::StaplerConfig config = ValidConfig();
  config.set_reload_command(0, "nginx");
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const std::string config_file = TempDirectory() + "/bad-stapler.textproto";
  ASSERT_OK(WriteFileAtomically(config_file, text));
  const std::string log = TempDirectory() + "/bad-stapler.log";
  auto stapler = ChildProcess::Start(
      {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/stapler/stapler"), "--config", config_file},
      log);
  ASSERT_TRUE(stapler.ok()) << stapler.status();
  ASSERT_TRUE((*stapler)->WaitForExit(absl::Seconds(30)));
  EXPECT_EQ((*stapler)->ExitCode(), 78);
  EXPECT_THAT(ReadFile(log).value_or(""),
              HasSubstr(absl::StrCat("invalid config ", config_file,
                                     ": reload_command: the program must be an absolute path")));
}

}  // namespace
}  // namespace mecai
