// The signer decides alone which roots it trusts (docs/SECURITY.md T7): over the real binaries, a
// compromised coordinator — this test, holding the coordinator's real mutual-TLS identity — cannot
// add a root to the signer's trust list, neither unsigned, nor signed by a key that is not a
// trust-list maintainer's, nor by replaying a change the maintainer signed earlier (which the log
// publishes), and the signer still refuses to sign for the attacker's chain. A removal made with
// `mecai trust-list` survives restarts of the signer and of the coordinator: the next VR for that
// root is refused before probing.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli/trust_list_client.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/trust_list_change.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/probe.grpc.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr int kAgents = 3;
// 32 bytes: a probe nonce (16..64).
constexpr char kProbeNonce[] = "compromised-coordinator-nonce-01";

std::string MecaiBinary() { return absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai"); }

struct CommandOutcome {
  int exit_code = -1;
  std::string output;
};

// A CA of the test's own (self-signed) and a certificate for the cluster's target host under it,
// written as <directory>/root.pem, chain.pem (the leaf alone) and leaf.key.
struct OwnCa {
  std::string root_der;
  std::string root_file;
  std::string chain_file;
  std::string key_file;
};

absl::StatusOr<OwnCa> MakeOwnCa(const std::string& directory, const std::string& name) {
  mkdir(directory.c_str(), 0700);
  const absl::Time now = absl::Now();
  CertificateSpec root_spec;
  root_spec.common_name = name;
  root_spec.is_certificate_authority = true;
  root_spec.not_before = now - absl::Hours(1);
  root_spec.not_after = now + absl::Hours(24 * 365);
  ASSIGN_OR_RETURN(EvpPkeyPtr root_key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr root,
                   IssueCertificate(root_spec, root_key.get(), nullptr, root_key.get()));
  CertificateSpec leaf_spec;
  leaf_spec.common_name = LocalCluster::kTargetHost;
  leaf_spec.dns_names = {LocalCluster::kTargetHost};
  leaf_spec.extended_key_usages = {"serverAuth"};
  leaf_spec.not_before = now - absl::Hours(1);
  leaf_spec.not_after = now + absl::Hours(24 * 30);
  ASSIGN_OR_RETURN(EvpPkeyPtr leaf_key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr leaf,
                   IssueCertificate(leaf_spec, leaf_key.get(), root.get(), root_key.get()));
  OwnCa ca;
  ca.root_der = CertificateToDer(root.get());
  ca.root_file = directory + "/root.pem";
  ca.chain_file = directory + "/chain.pem";
  ca.key_file = directory + "/leaf.key";
  RETURN_IF_ERROR(WriteFileAtomically(ca.root_file, CertificateToPem(root.get())));
  RETURN_IF_ERROR(WriteFileAtomically(ca.chain_file, CertificateToPem(leaf.get())));
  RETURN_IF_ERROR(WriteFileAtomically(ca.key_file, PrivateKeyToPem(leaf_key.get()), 0600));
  return ca;
}

// The running test's name, which names its cluster's directory.
std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

class TrustListTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(TestName())); }

  // The flags of a `mecai` client subcommand that reaches the coordinator as `identity`.
  std::vector<std::string> ConnectionFlags(const std::string& identity) const {
    return {"--vs",
            absl::StrCat("127.0.0.1:", cluster_->coordinator_port()),
            "--tls-ca",
            cluster_->Path("internal/ca.pem"),
            "--tls-cert",
            cluster_->Path("internal/" + identity + ".pem"),
            "--tls-key",
            cluster_->Path("internal/" + identity + ".key"),
            "--tls-server-name",
            "coordinator"};
  }

  // Runs the real `mecai` with `arguments` (at most 60 s).
  CommandOutcome Mecai(const std::vector<std::string>& arguments) const {
    static int counter = 0;
    std::vector<std::string> argv = {MecaiBinary()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const std::string log = cluster_->Path(absl::StrCat("logs/mecai-", ++counter, ".log"));
    CommandOutcome outcome;
    auto process = ChildProcess::Start(argv, log);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return outcome;
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(60))) << "mecai did not exit";
    outcome.exit_code = (*process)->ExitCode();
    outcome.output = ReadFile(log).value_or("");
    return outcome;
  }

  std::shared_ptr<grpc::Channel> Channel(const v1::PeerConfig& peer) const {
    auto channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.value_or(nullptr);
  }

  // The signer as the coordinator reaches it: with the coordinator's own mutual-TLS identity.
  std::unique_ptr<v1::SignerService::Stub> SignerAsCoordinator() const {
    return v1::SignerService::NewStub(Channel(cluster_->SignerPeerAsCoordinator()));
  }

  grpc::Status ApplyAtTheSigner(const v1::ApplyTrustListChangeRequest& request) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ApplyTrustListChangeResponse response;
    return SignerAsCoordinator()->ApplyTrustListChange(&context, request, &response);
  }

  // A VR for the cluster's target signed with the key of `chain_file`'s leaf.
  std::string Request(const std::string& chain_file, const std::string& key_file) const {
    auto request = SignedRequestFromFiles(chain_file, key_file, LocalCluster::kTargetHost,
                                          static_cast<uint32_t>(cluster_->target_port()),
                                          LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  // What a coordinator sends the signer for `vouching_request`: genuine Observations, which the
  // real agents sign when asked with the coordinator's identity, and the issuing CA's CRL (the
  // served certificate is not on it).
  v1::SignVouchingRequest Evidence(const std::string& vouching_request) const {
    v1::SignVouchingRequest request;
    request.set_vouching_request(vouching_request);
    request.set_probe_nonce(kProbeNonce);
    request.set_log_index(1000000);
    request.set_log_shard_id(LocalCluster::kShardId);
    for (int i = 1; i <= kAgents; ++i) {
      const std::string id = absl::StrCat("agent-", i);
      auto port_text = ReadFile(cluster_->Path("run/" + id + ".port"));
      int port = 0;
      EXPECT_TRUE(port_text.ok() &&
                  absl::SimpleAtoi(absl::StripAsciiWhitespace(*port_text), &port));
      v1::PeerConfig agent = cluster_->SignerPeerAsCoordinator();
      agent.set_address(absl::StrCat("127.0.0.1:", port));
      agent.mutable_tls()->set_server_identity(id);
      auto stub = v1::ProbeService::NewStub(Channel(agent));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::ProbeRequest probe;
      probe.mutable_task()->set_hostname(LocalCluster::kTargetHost);
      probe.mutable_task()->set_port(static_cast<uint32_t>(cluster_->target_port()));
      probe.mutable_task()->set_vouching_request_sha256(Sha256(vouching_request));
      probe.mutable_task()->set_nonce(kProbeNonce);
      // Every certificate of the cluster's web PKI is EC P-256: the key type the coordinator asks
      // the agents for (docs/PROTOCOL.md "Key-typed handshakes").
      probe.mutable_task()->add_certificate_key_types(v1::KEY_TYPE_EC_P256);
      v1::ProbeResponse response;
      grpc::Status status = stub->Probe(&context, probe, &response);
      EXPECT_TRUE(status.ok()) << id << ": " << status.error_message();
      *request.add_observations() = response.observation();
    }
    auto leaf = LoadPemCertificatesAsDer(cluster_->ServerLeafFile());
    auto crl = ReadFile(cluster_->Path("crl/issuing-ca.crl"));
    EXPECT_TRUE(leaf.ok() && crl.ok());
    v1::RevocationEvidence* evidence = request.add_revocation();
    evidence->set_certificate_sha256(Sha256(leaf.ok() ? leaf->front() : ""));
    evidence->set_source(v1::CRL);
    evidence->set_response_der(crl.value_or(""));
    evidence->set_obtained_at_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    evidence->set_url("file:crl/issuing-ca.crl");
    return request;
  }

  // SignVouching, asked as the coordinator, for a VR with the chain and key of the files.
  v1::SignVouchingResponse SignVouching(const std::string& chain_file,
                                        const std::string& key_file) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SignVouchingResponse response;
    grpc::Status status = SignerAsCoordinator()->SignVouching(
        &context, Evidence(Request(chain_file, key_file)), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // A change of the demo trust list with `sequence`, signed with the cluster's maintainer key.
  v1::SignedTrustListChange SignAsMaintainer(v1::TrustListChange::Action action,
                                             const std::string& root_file, uint64_t sequence) {
    TrustListChangeOptions options;
    options.action = action;
    options.trust_list = LocalCluster::kTrustList;
    options.root_certificate_file = root_file;
    options.reason = "the maintainers decided so";
    options.sequence = sequence;
    options.maintainer_key_file = cluster_->MaintainerKeyFile();
    auto change = MakeTrustListChange(options);
    EXPECT_TRUE(change.ok()) << change.status();
    return change.value_or(v1::SignedTrustListChange());
  }

  // Submits `change` as the administrator; returns its log index.
  uint64_t Submit(const v1::SignedTrustListChange& change) {
    auto response = SubmitTrustListChange(cluster_->AdminPeer(), change);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->log_index() : 0;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

// docs/SECURITY.md T7: the coordinator relays trust-list changes but cannot make one.
TEST_F(TrustListTest, ACompromisedCoordinatorCannotChangeTheSignersTrustLists) {
  auto attacker = MakeOwnCa(cluster_->Path("attacker"), "Attacker Root CA");
  ASSERT_TRUE(attacker.ok()) << attacker.status();
  auto retired = MakeOwnCa(cluster_->Path("retired"), "Retired Root CA");
  ASSERT_TRUE(retired.ok()) << retired.status();

  // The maintainers admitted the retired root (sequence 1) and later removed it (sequence 3). In
  // between they signed a change re-admitting it (sequence 2) that never reached the signer: the
  // compromised coordinator withheld it.
  const uint64_t admitted_at =
      Submit(SignAsMaintainer(v1::TrustListChange::ADD_ROOT, retired->root_file, 1));
  const v1::SignedTrustListChange withheld =
      SignAsMaintainer(v1::TrustListChange::ADD_ROOT, retired->root_file, 2);
  Submit(SignAsMaintainer(v1::TrustListChange::REMOVE_ROOT, retired->root_file, 3));
  auto kept = ReadFile(cluster_->SignerTrustListChangesFile());
  ASSERT_TRUE(kept.ok()) << kept.status();

  // The harness is sound: with this evidence, the signer signs for the cluster's own chain.
  v1::SignVouchingResponse control =
      SignVouching(cluster_->ServerChainFile(), cluster_->ServerKeyFile());
  ASSERT_TRUE(control.has_vouching_data()) << control.refusal().explanation();

  v1::TrustListChangeBody add_attacker;
  add_attacker.set_version(1);
  add_attacker.set_action(v1::TrustListChange::ADD_ROOT);
  add_attacker.set_trust_list(LocalCluster::kTrustList);
  add_attacker.set_root_certificate_der(attacker->root_der);
  add_attacker.set_root_sha256(Sha256(attacker->root_der));
  add_attacker.set_reason("trust me");
  add_attacker.set_sequence(1000);
  add_attacker.set_issued_at_unix_milliseconds(absl::ToUnixMillis(absl::Now()));

  // (a) An unsigned ADD_ROOT of the attacker's root.
  {
    v1::ApplyTrustListChangeRequest request;
    request.mutable_signed_change()->set_tbs(add_attacker.SerializeAsString());
    grpc::Status status = ApplyAtTheSigner(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(status.error_message(), HasSubstr("not signed"));
  }
  // ... and in the unsigned form of earlier versions (ApplyTrustListChangeRequest field 1).
  {
    v1::TrustListChange legacy;
    legacy.set_action(v1::TrustListChange::ADD_ROOT);
    legacy.set_trust_list(LocalCluster::kTrustList);
    legacy.set_root_certificate_der(attacker->root_der);
    legacy.set_root_sha256(Sha256(attacker->root_der));
    v1::ApplyTrustListChangeRequest request;
    request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(
        1, legacy.SerializeAsString());
    grpc::Status status = ApplyAtTheSigner(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("carries no signed trust-list change"));
  }
  // (b) Signed, in the right form, by a key that is not a trust-list maintainer's.
  {
    auto key = GenerateEd25519Key();
    ASSERT_TRUE(key.ok());
    auto attacker_key = InMemorySigningKey::Create(std::move(*key));
    ASSERT_TRUE(attacker_key.ok());
    auto forged = SignTrustListChange(add_attacker, **attacker_key);
    ASSERT_TRUE(forged.ok());
    v1::ApplyTrustListChangeRequest request;
    *request.mutable_signed_change() = *forged;
    grpc::Status status = ApplyAtTheSigner(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(status.error_message(),
                HasSubstr("does not verify under any configured trust-list maintainer key"));
  }
  // (c) A replay of the maintainer's old, valid ADD_ROOT of the retired root, as the public log
  // holds it.
  {
    auto coordinator = Channel(cluster_->CoordinatorPeer());
    auto record = CallGetRecord(*coordinator, admitted_at);
    ASSERT_TRUE(record.ok()) << record.status();
    ASSERT_EQ(record->trust_list_change().action(), v1::TrustListChange::ADD_ROOT);
    v1::ApplyTrustListChangeRequest request;
    *request.mutable_signed_change() = record->trust_list_change().signed_change();
    grpc::Status status = ApplyAtTheSigner(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_THAT(status.error_message(), HasSubstr("(sequence 1) was already applied"));
    EXPECT_THAT(status.error_message(), HasSubstr("is at sequence 3"));
  }
  // ... and the maintainer's withheld re-admission, validly signed, delivered after the removal.
  {
    v1::ApplyTrustListChangeRequest request;
    *request.mutable_signed_change() = withheld;
    grpc::Status status = ApplyAtTheSigner(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(),
                HasSubstr("(sequence 2) is a replayed or out-of-date change: 'demo-roots' is at "
                          "sequence 3"));
  }
  // Nothing changed at the signer, not even its record of changes.
  EXPECT_EQ(ReadFile(cluster_->SignerTrustListChangesFile()).value_or(""), *kept);
  auto still_refused = [&](const std::string& when) {
    v1::SignVouchingResponse attacker_chain =
        SignVouching(attacker->chain_file, attacker->key_file);
    EXPECT_EQ(attacker_chain.refusal().reason(), v1::UNTRUSTED_CHAIN)
        << when << ": " << attacker_chain.refusal().explanation();
    EXPECT_FALSE(attacker_chain.has_vouching_data()) << when;
    v1::SignVouchingResponse retired_chain = SignVouching(retired->chain_file, retired->key_file);
    EXPECT_EQ(retired_chain.refusal().reason(), v1::ROOT_REMOVED)
        << when << ": " << retired_chain.refusal().explanation();
  };
  still_refused("after the attempts");

  // The signer keeps its own record: restarted (the coordinator, which re-sends changes only
  // when it starts, keeps running), it still refuses both.
  ASSERT_TRUE(cluster_->Kill("signer", SIGTERM).ok());
  absl::Status restarted = cluster_->RestartSigner();
  ASSERT_TRUE(restarted.ok()) << restarted;
  still_refused("after the signer restarted");
}

// A removal made with `mecai trust-list` survives restarts of the signer and of the
// coordinator, and the next VR for that root is refused before any probe.
TEST_F(TrustListTest, ARemovalSurvivesRestartsAndIsRefusedBeforeProbing) {
  auto root = LoadPemCertificatesAsDer(cluster_->Path("pki/root-ca.pem"));
  ASSERT_TRUE(root.ok());
  const std::string root_hex = HexEncode(Sha256(root->front()));
  auto with = [](std::vector<std::string> arguments, const std::vector<std::string>& more) {
    arguments.insert(arguments.end(), more.begin(), more.end());
    return arguments;
  };

  CommandOutcome listed = Mecai(with({"trust-list", "list"}, ConnectionFlags("admin")));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("root    " + root_hex));
  EXPECT_THAT(listed.output, HasSubstr("last change sequence 0"));

  // Signed (the sequence asked of the coordinator) and written to a file, then submitted.
  const std::string change_file = cluster_->Path("removal.pb");
  CommandOutcome signed_removal = Mecai(with(
      {"trust-list", "remove", "--trust-list", LocalCluster::kTrustList, "--root",
       cluster_->Path("pki/root-ca.pem"), "--reason", "the maintainers revoked trust in this root",
       "--maintainer-key", cluster_->MaintainerKeyFile(), "--out", change_file},
      ConnectionFlags("admin")));
  ASSERT_EQ(signed_removal.exit_code, 0) << signed_removal.output;
  EXPECT_THAT(signed_removal.output, HasSubstr("signed change (sequence 1) written to"));
  CommandOutcome submitted =
      Mecai(with({"trust-list", "submit", "--change", change_file}, ConnectionFlags("admin")));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  EXPECT_THAT(submitted.output, HasSubstr("applied: REMOVE_ROOT " + root_hex));
  // The same change once more: refused, exit 3.
  CommandOutcome replayed =
      Mecai(with({"trust-list", "submit", "--change", change_file}, ConnectionFlags("admin")));
  EXPECT_EQ(replayed.exit_code, 3) << replayed.output;
  EXPECT_THAT(replayed.output, HasSubstr("was already applied"));
  // Only an administrator submits.
  CommandOutcome not_admin =
      Mecai(with({"trust-list", "submit", "--change", change_file}, ConnectionFlags("stapler")));
  EXPECT_EQ(not_admin.exit_code, 3) << not_admin.output;
  EXPECT_THAT(not_admin.output, HasSubstr("administrator identity"));

  // The signer restarted alone keeps the removal from its own file.
  ASSERT_TRUE(cluster_->Kill("signer", SIGTERM).ok());
  absl::Status restarted = cluster_->RestartSigner();
  ASSERT_TRUE(restarted.ok()) << restarted;
  v1::SignVouchingResponse at_signer =
      SignVouching(cluster_->ServerChainFile(), cluster_->ServerKeyFile());
  EXPECT_EQ(at_signer.refusal().reason(), v1::ROOT_REMOVED) << at_signer.refusal().explanation();

  // Then both, the coordinator last: the coordinator keeps the removal in its store.
  ASSERT_TRUE(cluster_->Kill("coordinator", SIGTERM).ok());
  ASSERT_TRUE(cluster_->Kill("signer", SIGTERM).ok());
  restarted = cluster_->RestartSigner();
  ASSERT_TRUE(restarted.ok()) << restarted;
  restarted = cluster_->RestartCoordinator();
  ASSERT_TRUE(restarted.ok()) << restarted;
  auto coordinator = Channel(cluster_->CoordinatorPeer());
  auto response =
      CallVouch(*coordinator, Request(cluster_->ServerChainFile(), cluster_->ServerKeyFile()));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->refusal().reason(), v1::ROOT_REMOVED) << response->refusal().explanation();
  EXPECT_THAT(response->perspectives(), SizeIs(0)) << "probed a VR for a removed root";
  EXPECT_FALSE(response->has_vouching_data());

  listed = Mecai(with({"trust-list", "list"}, ConnectionFlags("admin")));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("removed " + root_hex));
  EXPECT_THAT(listed.output, Not(HasSubstr("root    " + root_hex)));
  EXPECT_THAT(listed.output, HasSubstr("last change sequence 1"));
  // The change is in the log, for `mecai audit`.
  CommandOutcome audit = Mecai(with({"audit"}, ConnectionFlags("stapler")));
  ASSERT_EQ(audit.exit_code, 0) << audit.output;
  EXPECT_THAT(audit.output,
              HasSubstr(absl::StrCat("trust list '", LocalCluster::kTrustList, "'  REMOVE_ROOT")));
}

// With two signer replicas, a removal reaches both, not only the one the coordinator's signing
// connection lands on: each refuses a VR for the removed root.
TEST_F(TrustListTest, ARemovalReachesEverySignerReplica) {
  cluster_->Stop();
  LocalClusterOptions options;
  options.signer_replicas = 2;
  ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(TestName() + "-replicas", options));

  // Before: both replicas sign for the served certificate.
  const v1::SignVouchingRequest evidence =
      Evidence(Request(cluster_->ServerChainFile(), cluster_->ServerKeyFile()));
  auto sign_at = [&](int replica, uint64_t log_index) {
    v1::SignVouchingRequest request = evidence;
    request.set_log_index(log_index);
    auto stub =
        v1::SignerService::NewStub(Channel(cluster_->SignerReplicaPeerAsCoordinator(replica)));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SignVouchingResponse response;
    grpc::Status status = stub->SignVouching(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  for (int replica : {0, 1}) {
    EXPECT_TRUE(sign_at(replica, 2000000).has_vouching_data()) << "replica " << replica;
  }

  Submit(SignAsMaintainer(v1::TrustListChange::REMOVE_ROOT, cluster_->Path("pki/root-ca.pem"), 1));
  for (int replica : {0, 1}) {
    v1::SignVouchingResponse response = sign_at(replica, 2000001);
    EXPECT_EQ(response.refusal().reason(), v1::ROOT_REMOVED)
        << "replica " << replica << ": " << response.refusal().explanation();
  }
}

// `mecai trust-list keygen`: a maintainer key pair whose change a service accepts; an existing
// key is never overwritten.
TEST(TrustListCommandTest, KeygenMakesAMaintainerKeyPair) {
  const char* temporary = getenv("TEST_TMPDIR");
  const std::string directory = absl::StrCat(temporary != nullptr ? temporary : "/tmp", "/keygen");
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  const std::string key_file = directory + "/maintainer.key";
  const std::string public_key_file = directory + "/maintainer.pub";
  auto run = [&]() {
    auto process = ChildProcess::Start(
        {MecaiBinary(), "trust-list", "keygen", "--key", key_file, "--public-key", public_key_file},
        directory + "/keygen.log");
    EXPECT_TRUE(process.ok());
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(30)));
    return (*process)->ExitCode();
  };
  ASSERT_EQ(run(), 0) << ReadFile(directory + "/keygen.log").value_or("");
  struct stat info;
  ASSERT_EQ(stat(key_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto private_key = LoadPemPrivateKey(key_file);
  ASSERT_TRUE(private_key.ok());
  auto signing_key = InMemorySigningKey::Create(std::move(*private_key));
  ASSERT_TRUE(signing_key.ok());
  google::protobuf::RepeatedPtrField<std::string> files;
  *files.Add() = public_key_file;
  auto keys = MaintainerKeys::Load(files);
  ASSERT_TRUE(keys.ok()) << keys.status();
  v1::TrustListChangeBody body;
  body.set_version(1);
  body.set_action(v1::TrustListChange::REMOVE_ROOT);
  body.set_trust_list("mozilla");
  body.set_root_sha256(Sha256("a root"));
  body.set_sequence(1);
  auto change = SignTrustListChange(body, **signing_key);
  ASSERT_TRUE(change.ok());
  EXPECT_TRUE(VerifyTrustListChange(*change, *keys).ok());
  EXPECT_EQ(run(), 1) << "overwrote an existing key";
}

}  // namespace
}  // namespace mecai
