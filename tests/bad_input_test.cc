// Bad input to the real binaries: a missing or malformed config, an invalid field, an unreadable
// TLS key, an absent SoftHSM token or a wrong PIN, a port in use, a trust list requiring approval
// without the means to check it, a bad approval service config — each gives one clear message
// naming the problem and the exit status of its kind (docs/ARCHITECTURE.md §10 "Exit codes"):
// 78 (EX_CONFIG) for a configuration error, 69 (EX_UNAVAILABLE) for a resource unavailable at
// start, 1 for anything else; and leaves nothing running. (An unreachable agent does not stop the
// coordinator: tests/failure_test.cc.)
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cluster/binaries.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/trust_list_change.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "tests/support/cluster_fixture.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The exit statuses of docs/ARCHITECTURE.md §10 "Exit codes", spelled out: the test checks the
// numbers an init system sees.
constexpr int kExitConfig = 78;       // EX_CONFIG
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE
constexpr int kExitOther = 1;

struct Outcome {
  int exit_code = -1;
  std::string output;
};

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster, StartTestCluster("cluster"));
    cluster_ = cluster.release();
    auto binaries = FindClusterBinaries();
    ASSERT_TRUE(binaries.ok()) << binaries.status();
    binaries_ = new BinaryPaths(*binaries);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete binaries_;
  }

  // Runs `argv` to completion (at most 30 s) and returns its exit code and output.
  static Outcome Run(const std::vector<std::string>& argv,
                     const std::vector<std::string>& environment = {}) {
    static int counter = 0;
    const std::string log = cluster_->Path(absl::StrCat("logs/bad-input-", ++counter, ".log"));
    auto process = ChildProcess::Start(argv, log, environment);
    EXPECT_TRUE(process.ok()) << process.status();
    Outcome outcome;
    if (!process.ok()) return outcome;
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(30))) << argv[0] << " did not exit";
    outcome.exit_code = (*process)->ExitCode();
    outcome.output = ReadFile(log).value_or("");
    return outcome;
  }

  template <typename Config>
  static Config Load(const std::string& name) {
    auto config = LoadConfig<Config>(cluster_->Path(name));
    EXPECT_TRUE(config.ok()) << config.status();
    return *config;
  }

  static std::string Write(const std::string& name, const google::protobuf::Message& config) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(config, &text);
    const std::string path = cluster_->Path(name);
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }

  static std::string SoftHsmEnvironment() {
    return absl::StrCat("SOFTHSM2_CONF=", cluster_->Path("hsm/softhsm2.conf"));
  }

  static LocalCluster* cluster_;
  static BinaryPaths* binaries_;
};

LocalCluster* BadInputTest::cluster_ = nullptr;
BinaryPaths* BadInputTest::binaries_ = nullptr;

TEST_F(BadInputTest, EveryBinaryAnswersHelp) {
  for (const std::string& binary :
       {binaries_->coordinator, binaries_->signer, binaries_->probe_agent}) {
    Outcome outcome = Run({binary, "--help"});
    EXPECT_EQ(outcome.exit_code, 0) << binary;
    EXPECT_THAT(outcome.output, HasSubstr("--config FILE")) << binary;
    EXPECT_THAT(outcome.output, HasSubstr("78 (EX_CONFIG)")) << binary;
    EXPECT_THAT(outcome.output, HasSubstr("69 (EX_UNAVAILABLE)")) << binary;
  }
}

TEST_F(BadInputTest, MissingConfigFlagIsAUsageError) {
  for (const std::string& binary :
       {binaries_->coordinator, binaries_->signer, binaries_->probe_agent}) {
    Outcome outcome = Run({binary});
    EXPECT_EQ(outcome.exit_code, 2) << binary;
    EXPECT_THAT(outcome.output, HasSubstr("--config")) << binary;
  }
}

TEST_F(BadInputTest, MissingConfigFileIsNamed) {
  const std::string missing = cluster_->Path("no-such-config.textproto");
  for (const std::string& binary :
       {binaries_->coordinator, binaries_->signer, binaries_->probe_agent}) {
    Outcome outcome = Run({binary, "--config", missing});
    EXPECT_EQ(outcome.exit_code, kExitConfig) << binary;
    EXPECT_THAT(outcome.output, HasSubstr("cannot open " + missing)) << binary;
  }
}

TEST_F(BadInputTest, MalformedConfigNamesLineAndColumn) {
  const std::string path = cluster_->Path("malformed.textproto");
  ASSERT_TRUE(WriteFileAtomically(path, "listen {\n  adress: \"127.0.0.1:0\"\n}\n").ok());
  Outcome outcome = Run({binaries_->coordinator, "--config", path});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("is not a valid mecai.v1.CoordinatorConfig"));
  EXPECT_THAT(outcome.output, HasSubstr("line 2 column"));
  EXPECT_THAT(outcome.output, HasSubstr("adress"));
}

TEST_F(BadInputTest, InvalidFieldIsNamed) {
  auto config = Load<v1::CoordinatorConfig>("coordinator.textproto");
  config.mutable_signer()->set_insecure_plaintext_for_local_development(true);
  config.mutable_policy()->set_min_regions(1);
  Outcome outcome =
      Run({binaries_->coordinator, "--config", Write("bad-coordinator.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("signer.insecure_plaintext_for_local_development"));
  EXPECT_THAT(outcome.output, HasSubstr("policy.min_regions"));
}

// A TLS key or certificate the config names but that cannot be read, or that is not the
// certificate's key, is a configuration error of every service.
TEST_F(BadInputTest, UnreadableOrMismatchedTlsKeyIsAConfigurationError) {
  auto agent = Load<v1::ProbeAgentConfig>("agents/agent-1.textproto");
  agent.mutable_listen()->set_address("127.0.0.1:0");
  agent.mutable_listen()->set_port_file(cluster_->Path("run/no-key.port"));
  agent.mutable_listen()->clear_metrics_address();
  agent.mutable_listen()->clear_health_address();
  const std::string missing = cluster_->Path("internal/no-such.key");
  agent.mutable_listen()->mutable_tls()->set_private_key_file(missing);
  Outcome outcome =
      Run({binaries_->probe_agent, "--config", Write("agent-no-key.textproto", agent)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr(missing));
  EXPECT_FALSE(ReadFile(cluster_->Path("run/no-key.port")).ok());

  auto coordinator = Load<v1::CoordinatorConfig>("coordinator.textproto");
  coordinator.set_store_path(cluster_->Path("store/mismatched-key"));
  coordinator.mutable_listen()->set_port_file(cluster_->Path("run/mismatched-key.port"));
  // The TLS target's key (web PKI), which is not the listener certificate's key.
  coordinator.mutable_listen()->mutable_tls()->set_private_key_file(cluster_->ServerKeyFile());
  outcome =
      Run({binaries_->coordinator, "--config", Write("mismatched-key.textproto", coordinator)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("is not the key of tls.certificate_file"));
  EXPECT_FALSE(ReadFile(cluster_->Path("run/mismatched-key.port")).ok());
}

TEST_F(BadInputTest, SignerRefusesPlaintext) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
  Outcome outcome = Run({binaries_->signer, "--config", Write("plain-signer.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("plaintext is never allowed"));
}

TEST_F(BadInputTest, AbsentTokenIsNamed) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.mutable_pkcs11()->set_token_label("no-such-token");
  config.mutable_listen()->set_port_file("");
  Outcome outcome = Run({binaries_->signer, "--config", Write("absent-token.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("no token with label 'no-such-token'"));
  EXPECT_THAT(outcome.output, Not(HasSubstr("serving on")));
}

TEST_F(BadInputTest, WrongPinIsNamedWithoutRevealingIt) {
  const std::string pin_file = cluster_->Path("hsm/wrong.pin");
  ASSERT_TRUE(WriteFileAtomically(pin_file, "not-the-pin-7731\n", 0600).ok());
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.mutable_pkcs11()->set_pin_file(pin_file);
  config.mutable_listen()->set_port_file("");
  Outcome outcome = Run({binaries_->signer, "--config", Write("wrong-pin.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("wrong PIN"));
  EXPECT_THAT(outcome.output, Not(HasSubstr("not-the-pin-7731")));
}

TEST_F(BadInputTest, Ed25519KeyInTheTokenStopsTheSigner) {
  // The VA key must be EC P-256 or RSA ≥ 2048 (config.proto Pkcs11Config.key_label); the PKCS#11
  // layer opens Ed25519 keys for probe agents, and the signer must not take one.
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.mutable_pkcs11()->set_key_label("ed25519-not-a-va-key");
  config.mutable_listen()->set_port_file("");
  ASSERT_TRUE(GenerateEd25519KeyPairInToken(config.pkcs11()).ok());
  Outcome outcome = Run({binaries_->signer, "--config", Write("ed25519-va.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output,
              HasSubstr("key 'ed25519-not-a-va-key' in token '" + config.pkcs11().token_label() +
                        "' is Ed25519 (ED25519); this key must be ECDSA_P256_SHA256 or "
                        "RSA_PKCS1_SHA256 or RSA_PSS_SHA256"))
      << outcome.output;
  EXPECT_THAT(outcome.output, Not(HasSubstr("ready;")));
}

TEST_F(BadInputTest, VaCertificateWithoutOcspSigningStopsTheSigner) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.set_va_certificate_chain_file(cluster_->ServerLeafFile());
  config.mutable_listen()->set_port_file("");
  Outcome outcome = Run({binaries_->signer, "--config", Write("no-eku.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("lacks the id-kp-OCSPSigning"));
}

TEST_F(BadInputTest, VaCertificateFromAnotherCaStopsTheSigner) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.set_ca_certificate_file(cluster_->Path("internal/ca.pem"));
  config.mutable_listen()->set_port_file("");
  Outcome outcome = Run({binaries_->signer, "--config", Write("other-ca.textproto", config)},
                        {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("does not chain to the configured CA certificate"));
}

TEST_F(BadInputTest, PortInUseIsNamed) {
  auto config = Load<v1::ProbeAgentConfig>("agents/agent-1.textproto");
  const std::string taken = absl::StrCat("127.0.0.1:", cluster_->coordinator_port());
  config.mutable_listen()->set_address(taken);
  config.mutable_listen()->set_port_file("");
  Outcome outcome =
      Run({binaries_->probe_agent, "--config", Write("port-in-use.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitUnavailable);
  EXPECT_THAT(outcome.output, HasSubstr("cannot listen on " + taken));
}

// A valid approval service config (ARCHITECTURE.md §7) on loopback, plaintext for local
// development.
v1::ApprovalConfig ApprovalConfigIn(const std::string& workdir) {
  v1::ApprovalConfig config;
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
  config.set_web_address("127.0.0.1:0");
  config.set_store_path(workdir + "/store/bad-input-approval");
  (*config.mutable_rdap_base_urls())["test"] = "http://127.0.0.1:9/rdap/";
  config.set_voice_gateway_url("http://127.0.0.1:9/calls");
  config.set_approval_site_url("http://certapproval.mecai.test/");
  config.set_certificate_authority_name("MECAI Demo CA");
  // The registry and the gateway would be plain http on loopback.
  config.set_allow_http_for_testing(true);
  return config;
}

// The one line of `output` that says the config is invalid ("" when none).
std::string InvalidConfigLine(const std::string& output) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StrContains(line, "invalid config")) return std::string(line);
  }
  return "";
}

TEST_F(BadInputTest, ApprovalServiceStopsOnInvalidFieldsNamingEachInOneLine) {
  ASSERT_FALSE(binaries_->approval.empty());
  v1::ApprovalConfig config = ApprovalConfigIn(cluster_->workdir());
  config.set_code_length(4);
  config.set_voice_gateway_url("gateway.example");
  Outcome outcome = Run({binaries_->approval, "--config", Write("bad-approval.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  const std::string line = InvalidConfigLine(outcome.output);
  EXPECT_THAT(line, HasSubstr("code_length: must be 6..12 digits")) << outcome.output;
  EXPECT_THAT(line, HasSubstr("voice_gateway_url: must be an http(s) URL"));
  EXPECT_FALSE(ReadFile(cluster_->workdir() + "/store/bad-input-approval/CURRENT").ok())
      << "a bad config must change nothing";
}

TEST_F(BadInputTest, ApprovalServiceStopsOnAnUnreadableSigningKey) {
  v1::ApprovalConfig config = ApprovalConfigIn(cluster_->workdir());
  config.set_signing_key_file(cluster_->Path("approval/no-such-records.key"));
  Outcome outcome =
      Run({binaries_->approval, "--config", Write("approval-no-key.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("signing_key_file"));
  EXPECT_THAT(outcome.output, HasSubstr("no-such-records.key"));
}

// ARCHITECTURE.md §7: requiring approval without a way to check it stops the process at start.
TEST_F(BadInputTest, RequiringApprovalWithoutTheApprovalServiceStopsTheCoordinator) {
  auto config = Load<v1::CoordinatorConfig>("coordinator.textproto");
  config.mutable_trust_lists(0)->set_require_issuance_approval(true);
  config.clear_approval_service();
  Outcome outcome = Run(
      {binaries_->coordinator, "--config", Write("approval-without-service.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(InvalidConfigLine(outcome.output),
              HasSubstr("approval_service: required because a trust list has "
                        "require_issuance_approval"))
      << outcome.output;
}

TEST_F(BadInputTest, RequiringApprovalWithoutTheApprovalKeyStopsTheSigner) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.mutable_trust_lists(0)->set_require_issuance_approval(true);
  config.clear_approval_public_key_file();
  Outcome outcome =
      Run({binaries_->signer, "--config", Write("approval-without-key.textproto", config)},
          {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(InvalidConfigLine(outcome.output),
              HasSubstr("approval_public_key_file: required because a trust list has "
                        "require_issuance_approval"))
      << outcome.output;
}

// Trust-list changes only from the maintainers: the keys to verify them are required where
// changes are kept or submitted, each missing field one line naming it.
TEST_F(BadInputTest, KeptTrustListChangesWithoutMaintainerKeysStopTheSigner) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.clear_trust_list_maintainer_key_files();
  config.mutable_listen()->set_port_file("");
  Outcome outcome =
      Run({binaries_->signer, "--config", Write("changes-without-keys.textproto", config)},
          {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(InvalidConfigLine(outcome.output),
              HasSubstr("trust_list_maintainer_key_files: required because "
                        "trust_list_changes_file is set"))
      << outcome.output;
}

TEST_F(BadInputTest, AdministrationWithoutMaintainerKeysStopsTheCoordinator) {
  auto config = Load<v1::CoordinatorConfig>("coordinator.textproto");
  config.clear_trust_list_maintainer_key_files();
  Outcome outcome =
      Run({binaries_->coordinator, "--config", Write("admin-without-keys.textproto", config)});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(InvalidConfigLine(outcome.output),
              HasSubstr("trust_list_maintainer_key_files: required because admin_identities is "
                        "set"))
      << outcome.output;
}

TEST_F(BadInputTest, UnreadableMaintainerKeyStopsTheSigner) {
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.set_trust_list_maintainer_key_files(0, cluster_->Path("trust-list/no-such.pub"));
  config.mutable_listen()->set_port_file("");
  Outcome outcome =
      Run({binaries_->signer, "--config", Write("no-maintainer-key.textproto", config)},
          {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_THAT(outcome.output, HasSubstr("trust_list_maintainer_key_files[0] ("));
  EXPECT_THAT(outcome.output, HasSubstr("no-such.pub"));
  EXPECT_THAT(outcome.output, Not(HasSubstr("ready;")));
}

// Every kept change is verified again at start: one altered after the maintainer signed it stops
// the signer with one line naming the file and the change.
TEST_F(BadInputTest, TamperedTrustListChangesFileStopsTheSigner) {
  auto root = LoadPemCertificatesAsDer(cluster_->Path("pki/root-ca.pem"));
  ASSERT_TRUE(root.ok());
  auto maintainer = LoadPemPrivateKey(cluster_->MaintainerKeyFile());
  ASSERT_TRUE(maintainer.ok());
  auto key = InMemorySigningKey::Create(std::move(*maintainer));
  ASSERT_TRUE(key.ok());
  v1::TrustListChangeBody removal;
  removal.set_version(1);
  removal.set_action(v1::TrustListChange::REMOVE_ROOT);
  removal.set_trust_list(LocalCluster::kTrustList);
  removal.set_root_sha256(Sha256(root->front()));
  removal.set_sequence(1);
  auto signed_removal = SignTrustListChange(removal, **key);
  ASSERT_TRUE(signed_removal.ok());
  v1::TrustListChanges kept;
  *kept.add_signed_changes() = *signed_removal;
  // The removal's sequence raised after signing (to block later changes): it no longer verifies.
  removal.set_sequence(1000000);
  kept.mutable_signed_changes(0)->set_tbs(removal.SerializeAsString());
  const std::string file = cluster_->Path("store/tampered-trust-list-changes.pb");
  ASSERT_TRUE(WriteFileAtomically(file, kept.SerializeAsString()).ok());
  auto config = Load<v1::SignerConfig>("signer.textproto");
  config.set_trust_list_changes_file(file);
  config.mutable_listen()->set_port_file("");
  Outcome outcome =
      Run({binaries_->signer, "--config", Write("tampered-changes.textproto", config)},
          {SoftHsmEnvironment()});
  EXPECT_EQ(outcome.exit_code, kExitOther);
  std::string line;
  for (absl::string_view candidate : absl::StrSplit(outcome.output, '\n')) {
    if (absl::StrContains(candidate, "does not verify")) line = std::string(candidate);
  }
  EXPECT_THAT(line, HasSubstr(file + ": trust-list change #1 does not verify")) << outcome.output;
  EXPECT_THAT(outcome.output, Not(HasSubstr("ready;")));
  // The file is left as it was, for the operator to look at.
  EXPECT_EQ(ReadFile(file).value_or(""), kept.SerializeAsString());
}

TEST_F(BadInputTest, MecaiCommandLineErrorsAreUsageErrors) {
  const std::string mecai = absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai");
  Outcome unknown = Run({mecai, "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown command 'frobnicate'"));
  Outcome missing = Run({mecai, "vouch", "--vs", "127.0.0.1:1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("--host is required"));
  Outcome bad_flag = Run({mecai, "verify", "--bogus", "x"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_THAT(bad_flag.output, HasSubstr("unknown flag --bogus"));
  Outcome audit_without_list =
      Run({mecai, "audit", "--vs", "127.0.0.1:1", "--plaintext", "--verify"});
  EXPECT_EQ(audit_without_list.exit_code, 2);
  EXPECT_THAT(audit_without_list.output,
              HasSubstr("mecai audit: --verify needs --va-list: the VA list says which VA may sign "
                        "the checkpoint"));
  Outcome negative_age = Run({mecai, "verify", "--vd", "x", "--host", "h", "--cert", "c",
                              "--va-list", "l", "--max-age", "-1h"});
  EXPECT_EQ(negative_age.exit_code, 2);
  EXPECT_THAT(negative_age.output, HasSubstr("--max-age must be a positive duration (24h)"));
}

// docs/VOUCHING_DATA.md §4: every VA names the key of its VA certificate; a list
// without it is refused in one line naming the field, before any VD is looked at.
TEST_F(BadInputTest, VaListEntryWithoutAPinIsRefusedInOneLine) {
  const std::string mecai = absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai");
  auto list = Load<v1::VaList>("va-list.textproto");
  ASSERT_EQ(list.vas_size(), 1);
  ASSERT_EQ(list.vas(0).va_spki_sha256_size(), 1);
  list.mutable_vas(0)->clear_va_spki_sha256();
  const std::string path = Write("va-list-without-pin.textproto", list);
  const std::string vd = cluster_->Path("empty.vd");
  ASSERT_TRUE(WriteFileAtomically(vd, "").ok());
  Outcome outcome = Run({mecai, "verify", "--vd", vd, "--host", LocalCluster::kTargetHost, "--cert",
                         cluster_->ServerChainFile(), "--va-list", path});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(
      outcome.output,
      HasSubstr(absl::StrCat("mecai verify: INVALID: VA list ", path, ": VA '", list.vas(0).id(),
                             "' needs va_spki_sha256 (the SHA-256 of its "
                             "VA certificate's SubjectPublicKeyInfo, 64 hex digits)\n")))
      << outcome.output;
}

TEST_F(BadInputTest, UnreachableVouchingServerIsAnError) {
  const std::string mecai = absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai");
  auto closed_port = PickFreeTcpPort();
  ASSERT_TRUE(closed_port.ok());
  v1::PeerConfig peer = cluster_->CoordinatorPeer();
  Outcome outcome = Run({mecai,
                         "vouch",
                         "--vs",
                         absl::StrCat("127.0.0.1:", *closed_port),
                         "--host",
                         LocalCluster::kTargetHost,
                         "--trust-list",
                         LocalCluster::kTrustList,
                         "--cert",
                         cluster_->ServerChainFile(),
                         "--key",
                         cluster_->ServerKeyFile(),
                         "--out",
                         cluster_->Path("never.vd"),
                         "--tls-ca",
                         peer.tls().server_ca_file(),
                         "--tls-cert",
                         peer.tls().certificate_file(),
                         "--tls-key",
                         peer.tls().private_key_file(),
                         "--tls-server-name",
                         "coordinator",
                         "--timeout",
                         "3s"});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("Vouching Server 127.0.0.1:"));
  EXPECT_FALSE(ReadFile(cluster_->Path("never.vd")).ok());
}

}  // namespace
}  // namespace mecai
