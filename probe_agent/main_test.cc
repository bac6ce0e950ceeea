// Runs the probe_agent binary as a process: flags, startup errors, a probe over gRPC, and an
// orderly stop on SIGTERM.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "common/files.h"
#include "common/hashing.h"
#include "common/pem.h"
#include "common/signature.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::ExitDescription;
using ::mecai::test_support::Subprocess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBinary[] = "probe_agent/probe_agent";

std::string ReadText(const std::string& path) {
  std::ifstream input(path);
  std::stringstream contents;
  contents << input.rdbuf();
  return contents.str();
}

class ProbeAgentMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = test_support::TestTemporaryDirectory() + "/" + test->name();
    ASSERT_EQ(system(("mkdir -p " + directory_).c_str()), 0);
    stdout_path_ = directory_ + "/stdout";
    stderr_path_ = directory_ + "/stderr";
    process_.RedirectOutput(stdout_path_, stderr_path_);
  }

  // Runs the binary to completion and returns its exit code (-1 if it did not exit normally).
  int RunToExit(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    absl::Status started = process_.Start(argv);
    EXPECT_TRUE(started.ok()) << started;
    absl::StatusOr<int> status = process_.Wait(absl::Seconds(30));
    EXPECT_TRUE(status.ok()) << status.status();
    if (!status.ok() || !WIFEXITED(*status)) return -1;
    return WEXITSTATUS(*status);
  }

  // A valid config on 127.0.0.1:0 (plaintext) with a fresh P-256 agent key.
  v1::ProbeAgentConfig ValidConfig() {
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    EXPECT_NE(key, nullptr);
    const std::string key_path = directory_ + "/agent.key";
    EXPECT_TRUE(WriteFileAtomically(key_path, PrivateKeyToPem(key.get()), 0600).ok());
    public_key_pem_ = PublicKeyToPem(key.get());
    v1::ProbeAgentConfig config;
    config.mutable_listen()->set_address("127.0.0.1:0");
    config.mutable_listen()->set_port_file(directory_ + "/port");
    config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
    config.mutable_perspective()->set_id("main-1a");
    config.mutable_perspective()->set_region("main-1");
    config.set_signing_key_file(key_path);
    config.mutable_resolver()->add_nameservers("127.0.0.1:1");  // Literal-IP targets only.
    config.add_allowed_special_address_ranges("127.0.0.0/8");
    return config;
  }

  std::string WriteConfig(const v1::ProbeAgentConfig& config) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(config, &text);
    const std::string path = directory_ + "/agent.textproto";
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }

  std::string directory_;
  std::string stdout_path_;
  std::string stderr_path_;
  std::string public_key_pem_;
  Subprocess process_;
};

TEST_F(ProbeAgentMainTest, HelpPrintsUsage) {
  EXPECT_EQ(RunToExit({"--help"}), 0);
  EXPECT_THAT(ReadText(stdout_path_), StartsWith("usage: probe_agent --config FILE\n"));
  EXPECT_EQ(ReadText(stderr_path_), "");
}

TEST_F(ProbeAgentMainTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunToExit({}), 2);
  EXPECT_THAT(ReadText(stderr_path_), StartsWith("probe_agent: --config FILE is required\nusage:"));
  EXPECT_EQ(RunToExit({"--verbose"}), 2);
  EXPECT_THAT(ReadText(stderr_path_), StartsWith("probe_agent: unknown argument --verbose\n"));
  EXPECT_EQ(RunToExit({"--config"}), 2);
  EXPECT_THAT(ReadText(stderr_path_), StartsWith("probe_agent: --config needs a FILE\n"));
}

TEST_F(ProbeAgentMainTest, MissingConfigFileExitsOne) {
  EXPECT_EQ(RunToExit({"--config", directory_ + "/nonexistent.textproto"}), 1);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, StartsWith("probe_agent: "));
  EXPECT_THAT(error, HasSubstr("nonexistent.textproto"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
}

TEST_F(ProbeAgentMainTest, InvalidConfigExitsOneNamingTheFields) {
  v1::ProbeAgentConfig config = ValidConfig();
  config.mutable_perspective()->clear_region();
  config.set_connect_timeout_milliseconds(120000);
  EXPECT_EQ(RunToExit({"--config=" + WriteConfig(config)}), 1);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, StartsWith("probe_agent: invalid config "));
  EXPECT_THAT(error, HasSubstr("perspective.region: required"));
  EXPECT_THAT(error, HasSubstr("connect_timeout_milliseconds: 120000 is more than 60000 ms"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
}

TEST_F(ProbeAgentMainTest, UnreadableOrWrongKeyExitsOne) {
  v1::ProbeAgentConfig config = ValidConfig();
  config.set_signing_key_file(directory_ + "/missing.key");
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), 1);
  EXPECT_THAT(ReadText(stderr_path_), StartsWith("probe_agent: signing_key_file "));

  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_TRUE(WriteFileAtomically(directory_ + "/p384.key", PrivateKeyToPem(p384.get())).ok());
  config.set_signing_key_file(directory_ + "/p384.key");
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), 1);
  EXPECT_EQ(ReadText(stderr_path_),
            "probe_agent: signing_key_file " + directory_ +
                "/p384.key: the agent key must be an Ed25519 (or EC P-256) key\n");
}

TEST_F(ProbeAgentMainTest, PortInUseExitsOneAndLeavesNothingRunning) {
  // A plain listener holds the port the agent is told to use.
  absl::StatusOr<std::unique_ptr<test_support::PlainTcpTestServer>> holder =
      test_support::PlainTcpTestServer::Start(
          "127.0.0.1", test_support::PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(holder.ok());
  v1::ProbeAgentConfig config = ValidConfig();
  config.mutable_listen()->set_address("127.0.0.1:" + std::to_string((*holder)->port()));
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), 1);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, HasSubstr("probe_agent: cannot listen on 127.0.0.1:"));
}

TEST_F(ProbeAgentMainTest, ServesProbesAndStopsOnSigterm) {
  absl::StatusOr<test_support::TestCertificate> certificate =
      test_support::WriteSelfSignedCertificate(directory_, "target", "target.example.test");
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  test_support::OpenSslTestServer::Options options;
  options.certificate = *certificate;
  absl::StatusOr<std::unique_ptr<test_support::OpenSslTestServer>> target =
      test_support::OpenSslTestServer::Start(options);
  ASSERT_TRUE(target.ok()) << target.status();

  const v1::ProbeAgentConfig config = ValidConfig();
  ASSERT_TRUE(process_.Start({kBinary, "--config", WriteConfig(config)}).ok());
  std::string port_text;
  for (int i = 0; i < 1000 && port_text.empty(); ++i) {
    ASSERT_TRUE(process_.Running()) << ReadText(stderr_path_);
    port_text = ReadText(config.listen().port_file());
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(port_text.empty()) << ReadText(stderr_path_);
  const int port = std::stoi(port_text);

  v1::ProbeResponse response;
  {
    // The client goes away before the agent is stopped: gRPC's graceful shutdown waits for open
    // client connections (up to RunningServer's grace period), which would blur this test.
    auto client = v1::ProbeService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    v1::ProbeRequest request;
    request.mutable_task()->set_hostname("127.0.0.1");
    request.mutable_task()->set_port(static_cast<uint32_t>((*target)->port()));
    request.mutable_task()->set_vouching_request_sha256(Sha256("main test VR"));
    request.mutable_task()->set_nonce(std::string(32, '\x07'));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::Status status = client->Probe(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << ReadText(stderr_path_);
  }

  absl::StatusOr<EvpPkeyPtr> public_key = ParsePemPublicKey(public_key_pem_);
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(VerifySignature(public_key->get(), response.observation().signature(),
                              response.observation().tbs())
                  .ok());
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(response.observation().tbs()));
  EXPECT_EQ(body.perspective().id(), "main-1a");
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(certificate->der));

  // Stop() sends SIGTERM and waits 2 s before SIGKILL: a clean exit 0 means the agent shut down
  // in time on its own.
  const int wait_status = process_.Stop();
  ASSERT_TRUE(WIFEXITED(wait_status)) << ExitDescription(wait_status) << "\n"
                                      << ReadText(stderr_path_);
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("received SIGTERM, shutting down"));
}

TEST_F(ProbeAgentMainTest, StopsOnSigint) {
  const v1::ProbeAgentConfig config = ValidConfig();
  ASSERT_TRUE(process_.Start({kBinary, "--config", WriteConfig(config)}).ok());
  for (int i = 0; i < 1000 && ReadText(config.listen().port_file()).empty(); ++i) {
    ASSERT_TRUE(process_.Running()) << ReadText(stderr_path_);
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(kill(process_.pid(), SIGINT), 0);
  absl::StatusOr<int> wait_status = process_.Wait(absl::Seconds(10));
  ASSERT_TRUE(wait_status.ok()) << wait_status.status();
  ASSERT_TRUE(WIFEXITED(*wait_status)) << ExitDescription(*wait_status);
  EXPECT_EQ(WEXITSTATUS(*wait_status), 0);
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("received SIGINT, shutting down"));
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
