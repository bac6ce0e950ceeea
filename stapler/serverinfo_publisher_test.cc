// The serverinfo files of stock TLS servers (stapler/serverinfo_publisher.h): written from the
// stapler's VDs, never made worse, reloaded once per change. VDs are signed by the golden-vector
// VAs of testdata/vd/.
#include "stapler/serverinfo_publisher.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/metrics.h"
#include "common/crypto/pem.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "common/tls_extension/mecai_extension.h"
#include "common/tls_extension/serverinfo_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stapler/testing/tls_pair.h"
#include "stapler/tls_stapling.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing_tls::VectorPath;

constexpr char kHost[] = "www.example.com";

std::string TempDirectory() {
  const char* directory = getenv("TEST_TMPDIR");
  return directory != nullptr ? directory : "/tmp";
}

class ServerinfoPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(vas_, VaList::Load(VectorPath("va-list.textproto")));
    ASSERT_OK_AND_ASSIGN(auto server_leaf, LoadPemCertificatesAsDer(VectorPath("server-leaf.pem")));
    ASSERT_OK_AND_ASSIGN(auto other_leaf, LoadPemCertificatesAsDer(VectorPath("other-leaf.pem")));
    server_leaf_ = server_leaf.front();
    other_leaf_ = other_leaf.front();
    static int instance = 0;
    directory_ = absl::StrCat(TempDirectory(), "/publisher-", ++instance);
    ASSERT_EQ(mkdir(directory_.c_str(), 0700), 0);
    path_ = directory_ + "/server.serverinfo";
    options_.files = {{path_, server_leaf_}};
    options_.reload_command = {"/usr/sbin/nginx", "-s", "reload"};
  }

  // The publisher under test, checking VDs as a client of www.example.com:443 would at clock_.
  std::unique_ptr<ServerinfoPublisher> Publisher(prometheus::Registry* registry = nullptr) {
    return std::make_unique<ServerinfoPublisher>(
        options_,
        [this](const v1::VouchingData& vd, const std::string& certificate_der) {
          VdExpectation expected;
          expected.hostname = kHost;
          expected.port = 443;
          expected.certificate_der = certificate_der;
          expected.now = clock_.Now();
          return VerifyVouchingData(vd, *vas_, expected).status();
        },
        [this](const std::vector<std::string>& argv, absl::Duration timeout) {
          reloads_.push_back(argv);
          reload_timeouts_.push_back(timeout);
          return reload_outcome_;
        },
        registry);
  }

  // A VD of `va_id` for `leaves` (testdata/vd file names), issued `age` ago.
  std::string Vd(absl::Duration age, const std::vector<std::string>& leaves = {"server-leaf.pem"},
                 const std::string& va_id = "va-example", const std::string& host = kHost) {
    std::vector<std::string> paths;
    for (const std::string& leaf : leaves) paths.push_back(VectorPath(leaf));
    auto vd = testing_tls::SignVouchingData(host, paths, clock_.Now() - age, va_id);
    EXPECT_TRUE(vd.ok()) << vd.status();
    return vd.value_or("");
  }

  static std::shared_ptr<const VdSet> Set(const std::vector<std::string>& vds) {
    auto set = VdSet::FromSerialized(vds);
    EXPECT_TRUE(set.ok()) << set.status();
    return set.value_or(std::make_shared<VdSet>());
  }

  // The VDs of the file at `path`, as a stock server would staple them.
  static std::vector<std::string> FileVds(const std::string& path) {
    auto pem = ReadFile(path);
    if (!pem.ok()) return {"no file: " + std::string(pem.status().message())};
    auto body = DecodeServerinfoFile(*pem, kDefaultMecaiExtensionType);
    if (!body.ok()) return {"not serverinfo: " + std::string(body.status().message())};
    auto vds = DecodeVouchingDataList(*body);
    if (!vds.ok()) return {"not a list: " + std::string(vds.status().message())};
    return *vds;
  }

  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  std::unique_ptr<VaList> vas_;
  std::string server_leaf_;
  std::string other_leaf_;
  std::string directory_;
  std::string path_;
  ServerinfoOptions options_;
  ReloadOutcome reload_outcome_{ReloadResult::kSucceeded, "exited with status 0"};
  std::vector<std::vector<std::string>> reloads_;
  std::vector<absl::Duration> reload_timeouts_;
};

TEST_F(ServerinfoPublisherTest, WritesEachCertificatesFileAndReloadsOnce) {
  // A rollover: one VD vouches for both served certificates, each with its own file.
  const std::string next_path = directory_ + "/next.serverinfo";
  options_.files.push_back({next_path, other_leaf_});
  options_.reload_timeout = absl::Seconds(7);
  auto publisher = Publisher();
  const std::string vd = Vd(absl::Hours(1), {"server-leaf.pem", "other-leaf.pem"});
  publisher->Update(*Set({vd}));
  EXPECT_THAT(FileVds(path_), ElementsAre(vd));
  EXPECT_THAT(FileVds(next_path), ElementsAre(vd));
  EXPECT_THAT(reloads_, ElementsAre(ElementsAre("/usr/sbin/nginx", "-s", "reload")));
  EXPECT_THAT(reload_timeouts_, ElementsAre(absl::Seconds(7)));
  EXPECT_THAT(publisher->counts().updates, ElementsAre(Pair("written", 2u)));
  EXPECT_THAT(publisher->counts().reloads, ElementsAre(Pair("succeeded", 1u)));
  // The file is what `mecai serverinfo` writes for the same VD.
  auto expected = EncodeServerinfoFile(kDefaultMecaiExtensionType, EncodeVouchingDataList({vd}));
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(ReadFile(path_).value_or(""), *expected);

  // The same VDs again: nothing written, nothing reloaded.
  publisher->Update(*Set({vd}));
  EXPECT_EQ(reloads_.size(), 1u);
  EXPECT_THAT(publisher->counts().updates, ElementsAre(Pair("unchanged", 2u), Pair("written", 2u)));
}

TEST_F(ServerinfoPublisherTest, ANewerVdReplacesTheFilesVdOfThatVa) {
  auto publisher = Publisher();
  publisher->Update(*Set({Vd(absl::Hours(7))}));
  const std::string newer = Vd(absl::Hours(1));
  publisher->Update(*Set({newer}));
  EXPECT_THAT(FileVds(path_), ElementsAre(newer));
  EXPECT_EQ(reloads_.size(), 2u);
}

// "Never worse": the file is kept when the stapler holds no VD, when its VD is older than the
// file's, and when it does not verify for the file's certificate; nothing reloads.
TEST_F(ServerinfoPublisherTest, AnEmptyOlderOrInvalidSetLeavesTheFileAsItIs) {
  auto publisher = Publisher();
  const std::string current = Vd(absl::Hours(1));
  publisher->Update(*Set({current}));
  const std::string written = ReadFile(path_).value_or("");
  ASSERT_THAT(FileVds(path_), ElementsAre(current));
  reloads_.clear();

  publisher->Update(VdSet());
  publisher->Update(*Set({Vd(absl::Hours(2))}));
  publisher->Update(*Set({Vd(absl::Minutes(1), {"other-leaf.pem"})}));
  publisher->Update(
      *Set({Vd(absl::Minutes(1), {"server-leaf.pem"}, "va-example", "other.example.com")}));
  publisher->Update(*Set({Vd(absl::Hours(25))}));  // Too old: a client refuses it.

  EXPECT_EQ(ReadFile(path_).value_or(""), written);
  EXPECT_THAT(reloads_, IsEmpty());
  EXPECT_THAT(publisher->counts().updates,
              ElementsAre(Pair("kept_empty", 1u), Pair("kept_invalid", 3u), Pair("kept_older", 1u),
                          Pair("written", 1u)));
  EXPECT_THAT(publisher->counts().refused_vds, ElementsAre(Pair("invalid", 3u), Pair("older", 1u)));
}

// With nothing to keep, a VD that does not verify creates no file either.
TEST_F(ServerinfoPublisherTest, NoFileIsWrittenWithoutAValidVd) {
  auto publisher = Publisher();
  publisher->Update(VdSet());
  publisher->Update(*Set({Vd(absl::Minutes(1), {"other-leaf.pem"})}));
  EXPECT_EQ(ReadFile(path_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reloads_, IsEmpty());
}

// The file's VDs that still verify are kept beside the new ones: a VA the stapler lost (a fetch
// failed after a restart) keeps its VD in the file until it ages out.
TEST_F(ServerinfoPublisherTest, TheFilesValidVdsOfOtherVasAreKeptExpiredOnesDropped) {
  auto publisher = Publisher();
  const std::string example = Vd(absl::Hours(3));
  const std::string other = Vd(absl::Hours(23), {"server-leaf.pem"}, "va-other");
  publisher->Update(*Set({example, other}));
  ASSERT_THAT(FileVds(path_), ElementsAre(example, other));

  const std::string newer = Vd(absl::Hours(1));
  publisher->Update(*Set({newer}));
  EXPECT_THAT(FileVds(path_), ElementsAre(newer, other));

  // va-other's VD ages out; the next write leaves it out.
  clock_.Advance(absl::Hours(2));
  const std::string newest = Vd(absl::Minutes(1));
  publisher->Update(*Set({newest}));
  EXPECT_THAT(FileVds(path_), ElementsAre(newest));
  EXPECT_EQ(reloads_.size(), 3u);
}

TEST_F(ServerinfoPublisherTest, AFileThatIsNotServerinfoIsReplaced) {
  ASSERT_OK(WriteFileAtomically(path_, "not a serverinfo file\n"));
  auto publisher = Publisher();
  const std::string vd = Vd(absl::Hours(1));
  publisher->Update(*Set({vd}));
  EXPECT_THAT(FileVds(path_), ElementsAre(vd));
}

TEST_F(ServerinfoPublisherTest, AFailedWriteIsCountedAndReloadsNothing) {
  options_.files = {{directory_ + "/missing/server.serverinfo", server_leaf_}};
  auto publisher = Publisher();
  publisher->Update(*Set({Vd(absl::Hours(1))}));
  EXPECT_THAT(publisher->counts().updates, ElementsAre(Pair("write_failed", 1u)));
  EXPECT_THAT(reloads_, IsEmpty());
}

TEST_F(ServerinfoPublisherTest, ReloadResultsAreCounted) {
  auto publisher = Publisher();
  reload_outcome_ = {ReloadResult::kFailed, "exited with status 1"};
  publisher->Update(*Set({Vd(absl::Hours(3))}));
  reload_outcome_ = {ReloadResult::kTimedOut, "still running after 30s"};
  publisher->Update(*Set({Vd(absl::Hours(2))}));
  reload_outcome_ = {ReloadResult::kNotStarted, "no such file"};
  publisher->Update(*Set({Vd(absl::Hours(1))}));
  EXPECT_THAT(publisher->counts().reloads,
              ElementsAre(Pair("failed", 1u), Pair("not_started", 1u), Pair("timed_out", 1u)));
  // Without a reload command, files are written and nothing runs.
  options_.reload_command.clear();
  reloads_.clear();
  auto quiet = Publisher();
  quiet->Update(*Set({Vd(absl::Minutes(1))}));
  EXPECT_THAT(quiet->counts().updates, ElementsAre(Pair("written", 1u)));
  EXPECT_THAT(reloads_, IsEmpty());
}

// The real runner: no shell, the exit status, a bound in time.
TEST(RunReloadCommandTest, ReportsTheExitStatusAndKillsACommandThatTakesTooLong) {
  ReloadOutcome ok = RunReloadCommand({"/bin/sh", "-c", "exit 0"}, absl::Seconds(10));
  EXPECT_EQ(ok.result, ReloadResult::kSucceeded);
  EXPECT_EQ(ok.description, "exited with status 0");
  ReloadOutcome failed = RunReloadCommand({"/bin/sh", "-c", "exit 3"}, absl::Seconds(10));
  EXPECT_EQ(failed.result, ReloadResult::kFailed);
  EXPECT_EQ(failed.description, "exited with status 3");
  // No shell: the argument is one argv entry, not a command line.
  ReloadOutcome literal = RunReloadCommand({"/bin/echo", "$(exit 4); exit 5"}, absl::Seconds(10));
  EXPECT_EQ(literal.result, ReloadResult::kSucceeded);
  const absl::Time start = absl::Now();
  ReloadOutcome slow = RunReloadCommand({"/bin/sleep", "30"}, absl::Milliseconds(200));
  EXPECT_EQ(slow.result, ReloadResult::kTimedOut);
  EXPECT_THAT(slow.description, HasSubstr("still running after 200ms"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ReloadOutcome missing = RunReloadCommand({"/nonexistent/reload"}, absl::Seconds(10));
  EXPECT_EQ(missing.result, ReloadResult::kNotStarted);
  EXPECT_EQ(RunReloadCommand({}, absl::Seconds(1)).result, ReloadResult::kNotStarted);
}

// The publisher's metrics (CONTRIBUTING.md rule 7), checked by Prometheus' own promtool.
TEST_F(ServerinfoPublisherTest, MetricsPassPromtool) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto publisher = Publisher(registry.get());
  publisher->Update(*Set({Vd(absl::Hours(1))}));
  publisher->Update(VdSet());
  publisher->Update(*Set({Vd(absl::Hours(2))}));
  v1::ListenConfig listen;
  listen.set_metrics_address("127.0.0.1:0");
  auto server = MetricsServer::Start(listen, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string text_file = directory_ + "/metrics.txt";
  auto fetch = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", text_file,
       absl::StrCat("http://127.0.0.1:", (*server)->port(), "/metrics")},
      directory_ + "/curl.log");
  ASSERT_TRUE(fetch.ok());
  ASSERT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
  ASSERT_EQ((*fetch)->ExitCode(), 0) << ReadFile(directory_ + "/curl.log").value_or("");
  auto check =
      ChildProcess::Start({"sh", "-c", absl::StrCat("promtool check metrics < ", text_file)},
                          directory_ + "/promtool.log");
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*check)->ExitCode(), 0) << ReadFile(directory_ + "/promtool.log").value_or("");
  auto text = ReadFile(text_file);
  ASSERT_TRUE(text.ok());
  for (const char* line : {
           "mecai_stapler_serverinfo_updates_total{outcome=\"written\"} 1",
           "mecai_stapler_serverinfo_updates_total{outcome=\"kept_empty\"} 1",
           "mecai_stapler_serverinfo_updates_total{outcome=\"kept_older\"} 1",
           "mecai_stapler_serverinfo_refused_vds_total{reason=\"older\"} 1",
           "mecai_stapler_reloads_total{result=\"succeeded\"} 1",
       }) {
    EXPECT_THAT(*text, HasSubstr(line));
  }
}

}  // namespace
}  // namespace mecai
