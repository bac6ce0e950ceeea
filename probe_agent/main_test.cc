// Runs the probe_agent binary as a process: flags, startup errors, a probe over gRPC, and an
// orderly stop on SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/enrolled_agents.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/process/child_process.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace probe_agent {
namespace {

// docs/ARCHITECTURE.md §10 "Exit codes".
constexpr int kExitConfig = 78;       // EX_CONFIG
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kBinary[] = "probe_agent/probe_agent";
constexpr char kUserPin[] = "246810";

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
  }

  // Starts the binary with `arguments`, its stdout and stderr in fresh files; false if it did not
  // start.
  bool Start(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    unlink(stdout_path_.c_str());
    unlink(stderr_path_.c_str());
    ChildProcess::Options output;
    output.stdout_path = stdout_path_;
    output.stderr_path = stderr_path_;
    absl::StatusOr<std::unique_ptr<ChildProcess>> started = ChildProcess::Start(argv, output);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return false;
    process_ = std::move(*started);
    return true;
  }

  // Runs the binary to completion and returns its exit code (-1 if it did not exit normally).
  int RunToExit(const std::vector<std::string>& arguments) {
    if (!Start(arguments)) return -1;
    EXPECT_TRUE(process_->WaitForExit(absl::Seconds(30))) << "still running after 30 s";
    return process_->ExitCode();
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

  // A SoftHSM2 token "agent-token" (user PIN in <directory>/agent-token.pin) holding an Ed25519
  // key pair "observation-key" generated inside it, and `config` switched to that key. The token
  // directory reaches the agent through SOFTHSM2_CONF, which InitSoftHsmToken sets in this process
  // and children inherit. Returns the public key, as the token reports it.
  EvpPkeyPtr UseKeyInToken(v1::ProbeAgentConfig* config) {
    EXPECT_TRUE(InitSoftHsmToken(directory_ + "/hsm", "agent-token", kUserPin, "87654321").ok());
    v1::Pkcs11Config pkcs11;
    pkcs11.set_module_path(kSoftHsmModulePath);
    pkcs11.set_token_label("agent-token");
    pkcs11.set_key_label("observation-key");
    pkcs11.set_pin_file(directory_ + "/agent-token.pin");
    EXPECT_TRUE(WriteFileAtomically(pkcs11.pin_file(), std::string(kUserPin) + "\n", 0600).ok());
    absl::StatusOr<EvpPkeyPtr> public_key = GenerateEd25519KeyPairInToken(pkcs11);
    EXPECT_TRUE(public_key.ok()) << public_key.status();
    config->clear_signing_key_file();
    *config->mutable_signing_key_pkcs11() = pkcs11;
    return public_key.ok() ? std::move(*public_key) : nullptr;
  }

  // Starts the agent with `config` and returns its port, or 0.
  int StartAgent(const v1::ProbeAgentConfig& config) {
    if (!Start({"--config", WriteConfig(config)})) return 0;
    std::string port_text;
    for (int i = 0; i < 1000 && port_text.empty(); ++i) {
      if (!process_->Running()) return 0;
      port_text = ReadText(config.listen().port_file());
      absl::SleepFor(absl::Milliseconds(10));
    }
    return port_text.empty() ? 0 : std::stoi(port_text);
  }

  // openssl s_server with a fresh self-signed certificate, in certificate_ and target_.
  void StartTarget() {
    absl::StatusOr<test_support::TestCertificate> certificate =
        test_support::WriteSelfSignedCertificate(directory_, "target", "target.example.test");
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    certificate_ = *certificate;
    test_support::OpenSslTestServer::Options options;
    options.certificate = certificate_;
    absl::StatusOr<std::unique_ptr<test_support::OpenSslTestServer>> target =
        test_support::OpenSslTestServer::Start(options);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::move(*target);
  }

  // With the TLS library of the test (test_support::TestTlsLibraryName) unless `config` names one.
  std::string WriteConfig(v1::ProbeAgentConfig config) {
    if (config.tls_library().empty()) config.set_tls_library(test_support::TestTlsLibraryName());
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
  test_support::TestCertificate certificate_;
  std::unique_ptr<test_support::OpenSslTestServer> target_;
  std::unique_ptr<ChildProcess> process_;
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

TEST_F(ProbeAgentMainTest, MissingConfigFileExitsExConfig) {
  EXPECT_EQ(RunToExit({"--config", directory_ + "/nonexistent.textproto"}), kExitConfig);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, StartsWith("probe_agent: "));
  EXPECT_THAT(error, HasSubstr("nonexistent.textproto"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
}

TEST_F(ProbeAgentMainTest, InvalidConfigExitsExConfigNamingTheFields) {
  v1::ProbeAgentConfig config = ValidConfig();
  config.mutable_perspective()->clear_region();
  config.set_connect_timeout_milliseconds(120000);
  EXPECT_EQ(RunToExit({"--config=" + WriteConfig(config)}), kExitConfig);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, StartsWith("probe_agent: invalid config "));
  EXPECT_THAT(error, HasSubstr("perspective.region: required"));
  EXPECT_THAT(error, HasSubstr("connect_timeout_milliseconds: 120000 is more than 60000 ms"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
}

TEST_F(ProbeAgentMainTest, UnreadableOrWrongKeyExitsExConfig) {
  v1::ProbeAgentConfig config = ValidConfig();
  config.set_signing_key_file(directory_ + "/missing.key");
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), kExitConfig);
  EXPECT_THAT(ReadText(stderr_path_), StartsWith("probe_agent: signing_key_file "));

  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_TRUE(WriteFileAtomically(directory_ + "/p384.key", PrivateKeyToPem(p384.get())).ok());
  config.set_signing_key_file(directory_ + "/p384.key");
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), kExitConfig);
  EXPECT_EQ(ReadText(stderr_path_),
            "probe_agent: signing_key_file " + directory_ +
                "/p384.key: the agent key must be an Ed25519 (or EC P-256) key\n");
}

TEST_F(ProbeAgentMainTest, PortInUseExitsExUnavailableAndLeavesNothingRunning) {
  // A plain listener holds the port the agent is told to use.
  absl::StatusOr<std::unique_ptr<test_support::PlainTcpTestServer>> holder =
      test_support::PlainTcpTestServer::Start(
          "127.0.0.1", test_support::PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(holder.ok());
  v1::ProbeAgentConfig config = ValidConfig();
  config.mutable_listen()->set_address("127.0.0.1:" + std::to_string((*holder)->port()));
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), kExitUnavailable);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, HasSubstr("probe_agent: cannot listen on 127.0.0.1:"));
}

TEST_F(ProbeAgentMainTest, ServesProbesAndStopsOnSigterm) {
  ASSERT_NO_FATAL_FAILURE(StartTarget());

  const v1::ProbeAgentConfig config = ValidConfig();
  const int port = StartAgent(config);
  ASSERT_NE(port, 0) << ReadText(stderr_path_);

  v1::ProbeResponse response;
  {
    // The client goes away before the agent is stopped: gRPC's graceful shutdown waits for open
    // client connections (up to RunningServer's grace period), which would blur this test.
    auto client = v1::ProbeService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    v1::ProbeRequest request;
    request.mutable_task()->set_hostname("127.0.0.1");
    request.mutable_task()->set_port(static_cast<uint32_t>(target_->port()));
    request.mutable_task()->set_vouching_request_sha256(Sha256("main test VR"));
    request.mutable_task()->set_nonce(std::string(32, '\x07'));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::Status status = client->Probe(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << ReadText(stderr_path_);
  }

  absl::StatusOr<EvpPkeyPtr> public_key = ParsePemPublicKey(public_key_pem_);
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(VerifyObject(public_key->get(), SignedObject::kObservation,
                           response.observation().signature(), response.observation().tbs())
                  .ok());
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(response.observation().tbs()));
  EXPECT_EQ(body.perspective().id(), "main-1a");
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(certificate_.der));

  // Stop() sends SIGTERM and waits 2 s before SIGKILL: a clean exit 0 means the agent shut down
  // in time on its own.
  process_->Stop(absl::Seconds(2));
  ASSERT_EQ(process_->TerminatingSignal(), 0) << process_->ExitDescription() << "\n"
                                              << ReadText(stderr_path_);
  EXPECT_EQ(process_->ExitCode(), 0);
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("received SIGTERM, shutting down"));
}

// The real binary signs one Observation per VR: the same VR again, with a new nonce, is refused
// ALREADY_EXISTS naming the VR, and counted in the agent's metrics.
TEST_F(ProbeAgentMainTest, TheSameVrIsProbedOnce) {
  ASSERT_NO_FATAL_FAILURE(StartTarget());
  v1::ProbeAgentConfig config = ValidConfig();
  config.mutable_listen()->set_metrics_address("127.0.0.1:0");
  config.mutable_listen()->set_metrics_port_file(directory_ + "/metrics-port");
  const int port = StartAgent(config);
  ASSERT_NE(port, 0) << ReadText(stderr_path_);
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("each VR probed once per 600 s"));

  auto client = v1::ProbeService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto probe = [&](const std::string& vr, char nonce_byte, v1::ProbeResponse* response) {
    v1::ProbeRequest request;
    request.mutable_task()->set_hostname("127.0.0.1");
    request.mutable_task()->set_port(static_cast<uint32_t>(target_->port()));
    request.mutable_task()->set_vouching_request_sha256(Sha256(vr));
    request.mutable_task()->set_nonce(std::string(32, nonce_byte));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return client->Probe(&context, request, response);
  };
  v1::ProbeResponse first;
  grpc::Status status = probe("probed once", '\x01', &first);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << ReadText(stderr_path_);
  EXPECT_TRUE(first.has_observation());

  v1::ProbeResponse second;
  status = probe("probed once", '\x02', &second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(),
              StartsWith("already probed VR " + HexEncode(Sha256("probed once"))));
  EXPECT_THAT(status.error_message(), HasSubstr("an agent probes a VR once"));
  EXPECT_FALSE(second.has_observation());
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("refused a probe of 127.0.0.1: already probed VR"));

  v1::ProbeResponse other;
  status = probe("another VR", '\x02', &other);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // The metrics endpoint counts the refusal.
  const std::string metrics_port = ReadText(directory_ + "/metrics-port");
  ASSERT_FALSE(metrics_port.empty());
  const std::string metrics_file = directory_ + "/metrics.txt";
  ASSERT_EQ(system(("curl --silent --show-error --fail --max-time 10 --output " + metrics_file +
                    " http://127.0.0.1:" + std::to_string(std::stoi(metrics_port)) + "/metrics")
                       .c_str()),
            0);
  const std::string metrics = ReadText(metrics_file);
  EXPECT_THAT(
      metrics,
      HasSubstr("mecai_probe_agent_repeated_vr_refusals_total{reason=\"already_probed\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("mecai_probe_agent_remembered_vrs 2"));
}

TEST_F(ProbeAgentMainTest, AProbedVrMemoryOutsideItsBoundsStopsTheAgent) {
  v1::ProbeAgentConfig config = ValidConfig();
  config.set_probed_vr_memory_seconds(30);
  config.set_max_in_flight_probes(64);
  config.set_max_remembered_vrs(10);
  EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), kExitConfig);
  const std::string error = ReadText(stderr_path_);
  EXPECT_THAT(error, StartsWith("probe_agent: invalid config "));
  EXPECT_THAT(error, HasSubstr("probed_vr_memory_seconds: 30 is outside 60..86400"));
  EXPECT_THAT(error, HasSubstr("max_remembered_vrs: 10 is outside 64 (max_in_flight_probes).."));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
}

TEST_F(ProbeAgentMainTest, StopsOnSigint) {
  const v1::ProbeAgentConfig config = ValidConfig();
  ASSERT_TRUE(Start({"--config", WriteConfig(config)}));
  for (int i = 0; i < 1000 && ReadText(config.listen().port_file()).empty(); ++i) {
    ASSERT_TRUE(process_->Running()) << ReadText(stderr_path_);
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(kill(process_->pid(), SIGINT), 0);
  ASSERT_TRUE(process_->WaitForExit(absl::Seconds(10))) << "still running 10 s after SIGINT";
  ASSERT_EQ(process_->TerminatingSignal(), 0) << process_->ExitDescription();
  EXPECT_EQ(process_->ExitCode(), 0);
  EXPECT_THAT(ReadText(stderr_path_), HasSubstr("received SIGINT, shutting down"));
}

TEST_F(ProbeAgentMainTest, ObservationsSignedInAPkcs11TokenVerifyAsTheCoordinatorChecksThem) {
  ASSERT_NO_FATAL_FAILURE(StartTarget());

  v1::ProbeAgentConfig config = ValidConfig();
  EvpPkeyPtr token_public_key = UseKeyInToken(&config);
  ASSERT_NE(token_public_key, nullptr);
  const int port = StartAgent(config);
  ASSERT_NE(port, 0) << ReadText(stderr_path_);
  EXPECT_THAT(ReadText(stderr_path_),
              HasSubstr("signing Observations with key 'observation-key' in token 'agent-token'"));

  v1::ProbeRequest request;
  request.mutable_task()->set_hostname("127.0.0.1");
  request.mutable_task()->set_port(static_cast<uint32_t>(target_->port()));
  request.mutable_task()->set_vouching_request_sha256(Sha256("token-signed VR"));
  request.mutable_task()->set_nonce(std::string(24, '\x2a'));
  v1::ProbeResponse response;
  {
    auto client = v1::ProbeService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    grpc::Status status = client->Probe(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << ReadText(stderr_path_);
  }
  EXPECT_EQ(response.observation().signature().algorithm(), v1::ED25519);

  // The coordinator's check, with the public key enrolled from a PEM file (AgentEndpoint).
  const std::string public_key_file = directory_ + "/agent.pub.pem";
  ASSERT_TRUE(WriteFileAtomically(public_key_file, PublicKeyToPem(token_public_key.get())).ok());
  google::protobuf::RepeatedPtrField<v1::AgentEndpoint> endpoints;
  v1::AgentEndpoint* endpoint = endpoints.Add();
  *endpoint->mutable_perspective() = config.perspective();
  endpoint->mutable_peer()->set_address("127.0.0.1:" + std::to_string(port));
  endpoint->set_public_key_file(public_key_file);
  absl::StatusOr<std::unique_ptr<EnrolledAgents>> agents = EnrolledAgents::Load(endpoints);
  ASSERT_TRUE(agents.ok()) << agents.status();
  ObservationExpectation expected;
  expected.request_sha256 = request.task().vouching_request_sha256();
  expected.nonce = request.task().nonce();
  expected.hostname = "127.0.0.1";
  expected.port = request.task().port();
  expected.now = absl::Now();
  absl::StatusOr<v1::ObservationBody> body =
      (*agents)->Verify(config.perspective().id(), response.observation(), expected);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->outcome(), v1::PROBE_OK);

  // A signature by another key is refused: the check is real.
  v1::SignedObservation forged = response.observation();
  forged.mutable_signature()->mutable_value()->back() ^= 1;
  EXPECT_FALSE((*agents)->Verify(config.perspective().id(), forged, expected).ok());

  process_->Stop(absl::Seconds(2));
  ASSERT_EQ(process_->TerminatingSignal(), 0) << process_->ExitDescription();
  EXPECT_EQ(process_->ExitCode(), 0);
  EXPECT_THAT(ReadText(stderr_path_), Not(HasSubstr(kUserPin)));
}

TEST_F(ProbeAgentMainTest, BadPkcs11KeyExitsOneWithOneLine) {
  v1::ProbeAgentConfig base = ValidConfig();
  ASSERT_NE(UseKeyInToken(&base), nullptr);
  // An EC P-256 pair in the same token: a valid PKCS#11 key, but not the agent's kind.
  v1::Pkcs11Config p256 = base.signing_key_pkcs11();
  p256.set_key_label("p256-key");
  ASSERT_TRUE(GenerateEcKeyPairInToken(p256).ok());

  struct Row {
    std::function<void(v1::Pkcs11Config*)> change;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {[](v1::Pkcs11Config* c) { c->set_token_label("no-such-token"); },
       "probe_agent: signing_key_pkcs11: "},
      {[this](v1::Pkcs11Config* c) {
         ASSERT_TRUE(WriteFileAtomically(directory_ + "/wrong.pin", "999999\n", 0600).ok());
         c->set_pin_file(directory_ + "/wrong.pin");
       },
       "probe_agent: signing_key_pkcs11: login to token 'agent-token' failed: wrong PIN "
       "(CKR_PIN_INCORRECT)"},
      {[](v1::Pkcs11Config* c) { c->set_key_label("p256-key"); },
       "probe_agent: signing_key_pkcs11: key 'p256-key' in token 'agent-token' is EC P-256 "
       "(ECDSA_P256_SHA256); this key must be ED25519"},
      {[](v1::Pkcs11Config* c) { c->set_key_label("absent-key"); },
       "probe_agent: signing_key_pkcs11: no private key labelled 'absent-key' in token "
       "'agent-token'"},
  };
  for (const Row& row : rows) {
    v1::ProbeAgentConfig config = base;
    row.change(config.mutable_signing_key_pkcs11());
    EXPECT_EQ(RunToExit({"--config", WriteConfig(config)}), kExitConfig);
    const std::string error = ReadText(stderr_path_);
    EXPECT_THAT(error, StartsWith(row.expected));
    EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
    EXPECT_THAT(error, Not(HasSubstr("999999")));
    EXPECT_THAT(error, Not(HasSubstr(kUserPin)));
  }
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
