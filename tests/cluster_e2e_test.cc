// End to end over the real binaries: a LocalCluster (PKI, SoftHSM2 token, dnsmasq, openssl
// nginx, three probe agents, the signer and the coordinator as processes, all over mutual TLS)
// vouches for the served certificate, refuses a certificate the target does not serve with a
// record, and refuses bad signatures and stale timestamps with their own reasons.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/audit_client.h"
#include "cli/trust_list_client.h"
#include "cli/vouch_client.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/evidence/trust_list_change.h"
#include "common/evidence/vouching_request.h"
#include "common/process/child_process.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/trust_list.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Property;
using ::testing::SizeIs;

class ClusterEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.extra_hosts[kRolloverHost] = {"127.0.0.2", "127.0.0.3"};
    options.max_probe_rounds_per_hostname = kProbeRoundsPerHostname;
    // Every VR here is a decision of its own, probed and recorded: decision reuse, which would
    // answer a VR for the served certificate with an earlier one's VD, is off (its own tests are
    // tests/public_endpoint_test.cc).
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("cluster", options));
    cluster_ = cluster.release();
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "unserved").ok());
    StartRolloverTarget();
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    ASSERT_TRUE(channel.ok());
    channel_ = new std::shared_ptr<grpc::Channel>(*channel);
  }

  static void TearDownTestSuite() {
    delete nginx_;
    delete channel_;
    delete cluster_;  // Stops every process.
  }

  // A rollover in progress (MECAI proposal, "Server behaviour"): nginx serves the old certificate
  // at 127.0.0.2 and the new one at 127.0.0.3, both resolved for kRolloverHost.
  static void StartRolloverTarget() {
    ASSERT_TRUE(cluster_->IssueServerCertificate(kRolloverHost, "rollover-old").ok());
    ASSERT_TRUE(cluster_->IssueServerCertificate(kRolloverHost, "rollover-new").ok());
    auto port = PickFreeTcpPort();
    ASSERT_TRUE(port.ok());
    rollover_port_ = *port;
    const std::string prefix = cluster_->Path("nginx");
    ASSERT_EQ(mkdir(prefix.c_str(), 0700), 0);
    std::string servers;
    for (const auto& [address, name] :
         {std::pair<std::string, std::string>{"127.0.0.2", "old"}, {"127.0.0.3", "new"}}) {
      absl::StrAppend(&servers, "  server {\n    listen ", address, ":", rollover_port_,
                      " ssl;\n    server_name ", kRolloverHost, ";\n    ssl_certificate ",
                      cluster_->Path("pki/rollover-" + name + ".pem"),
                      ";\n    ssl_certificate_key ",
                      cluster_->Path("pki/rollover-" + name + ".key"), ";\n    return 200 \"", name,
                      "\\n\";\n  }\n");
    }
    const std::string config =
        absl::StrCat("worker_processes 1;\nerror_log stderr;\npid ", prefix, "/nginx.pid;\n",
                     "events { worker_connections 64; }\nhttp {\n  access_log off;\n",
                     "  client_body_temp_path ", prefix, "/body;\n  proxy_temp_path ", prefix,
                     "/proxy;\n", "  fastcgi_temp_path ", prefix, "/fastcgi;\n  uwsgi_temp_path ",
                     prefix, "/uwsgi;\n", "  scgi_temp_path ", prefix, "/scgi;\n", servers, "}\n");
    ASSERT_TRUE(WriteFileAtomically(prefix + "/nginx.conf", config).ok());
    auto nginx = ChildProcess::Start(
        {"nginx", "-p", prefix, "-c", prefix + "/nginx.conf", "-g", "daemon off;"},
        cluster_->Path("logs/nginx.log"));
    ASSERT_TRUE(nginx.ok()) << nginx.status();
    nginx_ = nginx->release();
    ASSERT_TRUE(WaitForTcpPort("127.0.0.2", rollover_port_, absl::Seconds(10)).ok())
        << TailOfFile(cluster_->Path("logs/nginx.log"));
    ASSERT_TRUE(WaitForTcpPort("127.0.0.3", rollover_port_, absl::Seconds(10)).ok());
  }

  static VouchOptions RolloverOptions() {
    VouchOptions options;
    options.vouching_server = cluster_->CoordinatorPeer();
    options.server.hostname = kRolloverHost;
    options.server.port = static_cast<uint32_t>(rollover_port_);
    options.server.trust_list = LocalCluster::kTrustList;
    options.server.certificate_file = cluster_->Path("pki/rollover-old.pem");
    options.server.key_file = cluster_->Path("pki/rollover-old.key");
    return options;
  }

  // A VR for the target, signed with the key of `name` (pki/<name>.pem and .key).
  static std::string MakeRequest(const std::string& name, absl::Time timestamp,
                                 const std::string& hostname = LocalCluster::kTargetHost) {
    auto request = SignedRequestFromFiles(
        cluster_->Path("pki/" + name + ".pem"), cluster_->Path("pki/" + name + ".key"), hostname,
        static_cast<uint32_t>(cluster_->target_port()), LocalCluster::kTrustList, timestamp);
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  static v1::VouchResponse Vouch(const std::string& serialized) {
    absl::StatusOr<v1::VouchResponse> response = CallVouch(**channel_, serialized);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::VouchResponse());
  }

  static v1::QuorumRecord GetRecord(uint64_t index) {
    absl::StatusOr<v1::QuorumRecord> record = CallGetRecord(**channel_, index);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.value_or(v1::QuorumRecord());
  }

  static uint64_t TreeSize() {
    auto stub = v1::AuditService::NewStub(*channel_);
    grpc::ClientContext context;
    v1::ListShardsResponse response;
    EXPECT_TRUE(stub->ListShards(&context, v1::ListShardsRequest(), &response).ok());
    return response.shards(0).tree_size();
  }

  static constexpr char kRolloverHost[] = "roll.mecai.test";
  static constexpr uint32_t kProbeRoundsPerHostname = 25;
  static LocalCluster* cluster_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static ChildProcess* nginx_;
  static int rollover_port_;
};

LocalCluster* ClusterEndToEndTest::cluster_ = nullptr;
std::shared_ptr<grpc::Channel>* ClusterEndToEndTest::channel_ = nullptr;
ChildProcess* ClusterEndToEndTest::nginx_ = nullptr;
int ClusterEndToEndTest::rollover_port_ = 0;

TEST_F(ClusterEndToEndTest, IssuesVouchingDataForTheServedCertificateThatVerifies) {
  VouchOptions options;
  options.vouching_server = cluster_->CoordinatorPeer();
  options.server.hostname = LocalCluster::kTargetHost;
  options.server.port = static_cast<uint32_t>(cluster_->target_port());
  options.server.trust_list = LocalCluster::kTrustList;
  options.server.certificate_file = cluster_->ServerChainFile();
  options.server.key_file = cluster_->ServerKeyFile();
  auto response = RequestVouching(options);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_vouching_data()) << response->refusal().explanation();
  EXPECT_THAT(response->perspectives(), SizeIs(3));
  EXPECT_THAT(response->perspectives(),
              Each(Property(&v1::PerspectiveResult::disagreement, v1::REFUSAL_REASON_UNSPECIFIED)));

  const std::string vd_file = cluster_->Path("issued.vd");
  ASSERT_TRUE(WriteFileAtomically(vd_file, response->vouching_data().SerializeAsString()).ok());
  VerifyOptions verify;
  verify.vouching_data_file = vd_file;
  verify.hostname = LocalCluster::kTargetHost;
  verify.certificate_file = cluster_->ServerLeafFile();
  verify.va_list_file = cluster_->VaListFile();
  auto statement = VerifyVouchingDataFile(verify);
  ASSERT_TRUE(statement.ok()) << statement.status();
  EXPECT_EQ(statement->va_id(), LocalCluster::kVaId);
  EXPECT_EQ(statement->hostname(), LocalCluster::kTargetHost);
  EXPECT_EQ(statement->port(), static_cast<uint32_t>(cluster_->target_port()));
  EXPECT_THAT(statement->perspectives(), SizeIs(3));
  EXPECT_EQ(statement->log_index(), response->log_index());
  EXPECT_EQ(statement->log_shard_id(), LocalCluster::kShardId);

  // The record of the decision is in the log and holds every Observation.
  v1::QuorumRecord record = GetRecord(response->log_index());
  EXPECT_EQ(record.decision(), v1::ISSUED);
  EXPECT_THAT(record.perspectives(), SizeIs(3));
  for (const auto& perspective : record.perspectives()) {
    EXPECT_FALSE(perspective.observation().tbs().empty());
  }

  // The same VD does not verify for another certificate or hostname.
  verify.certificate_file = cluster_->Path("pki/unserved-leaf.pem");
  auto wrong_certificate = VerifyVouchingDataFile(verify);
  EXPECT_EQ(wrong_certificate.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(wrong_certificate.status().message()),
              HasSubstr("not among the vouched certificates"));
  verify.certificate_file = cluster_->ServerLeafFile();
  verify.hostname = "other.mecai.test";
  EXPECT_EQ(VerifyVouchingDataFile(verify).status().code(), absl::StatusCode::kPermissionDenied);
}

// Both certificates of a rollover are served, at different addresses: the four-signature form
// is vouched for, the VD lists both, and a client accepts either certificate with it.
TEST_F(ClusterEndToEndTest, VouchesForARolloverServedAtDifferentAddresses) {
  VouchOptions options = RolloverOptions();
  options.server.next_certificate_file = cluster_->Path("pki/rollover-new.pem");
  options.server.next_key_file = cluster_->Path("pki/rollover-new.key");
  auto response = RequestVouching(options);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_vouching_data()) << response->refusal().explanation();
  for (const v1::PerspectiveResult& result : response->perspectives()) {
    v1::ObservationBody body;
    ASSERT_TRUE(body.ParseFromString(result.observation().tbs()));
    EXPECT_THAT(body.resolved_addresses(), testing::UnorderedElementsAre("127.0.0.2", "127.0.0.3"));
  }
  const std::string vd_file = cluster_->Path("rollover.vd");
  ASSERT_TRUE(WriteFileAtomically(vd_file, response->vouching_data().SerializeAsString()).ok());
  for (const char* name : {"old", "new"}) {
    VerifyOptions verify;
    verify.vouching_data_file = vd_file;
    verify.hostname = kRolloverHost;
    verify.certificate_file = cluster_->Path(absl::StrCat("pki/rollover-", name, "-leaf.pem"));
    verify.va_list_file = cluster_->VaListFile();
    auto statement = VerifyVouchingDataFile(verify);
    ASSERT_TRUE(statement.ok()) << name << ": " << statement.status();
    EXPECT_THAT(statement->certificate_sha256(), SizeIs(2));
  }
}

// During a rollover a VR that names only the old certificate is refused: one address serves the
// new one, which the VR does not name.
TEST_F(ClusterEndToEndTest, RefusesASingleCertificateWhileTwoAreServed) {
  auto response = RequestVouching(RolloverOptions());
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_refusal());
  EXPECT_EQ(response->refusal().reason(), v1::CERTIFICATE_MISMATCH);
  EXPECT_THAT(response->refusal().explanation(), HasSubstr("at 127.0.0.3"));
}

TEST_F(ClusterEndToEndTest, RefusesACertificateTheTargetDoesNotServeAndRecordsIt) {
  const uint64_t size_before = TreeSize();
  v1::VouchResponse response = Vouch(MakeRequest("unserved", absl::Now()));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::CERTIFICATE_MISMATCH);
  EXPECT_THAT(response.refusal().explanation(), HasSubstr("which the VR does not name"));
  EXPECT_FALSE(response.has_vouching_data());
  // The first mismatch decides; perspectives still probing are cancelled and say so.
  int mismatches = 0;
  for (const v1::PerspectiveResult& result : response.perspectives()) {
    if (result.disagreement() == v1::CERTIFICATE_MISMATCH) {
      ++mismatches;
    } else {
      EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED);
      EXPECT_THAT(result.detail(), HasSubstr("not awaited"));
    }
  }
  EXPECT_GE(mismatches, 1);

  EXPECT_EQ(TreeSize(), size_before + 1);
  v1::QuorumRecord record = GetRecord(response.log_index());
  EXPECT_EQ(record.decision(), v1::REFUSED);
  EXPECT_EQ(record.refusal().reason(), v1::CERTIFICATE_MISMATCH);
  EXPECT_FALSE(record.has_vouching_data());
  EXPECT_THAT(record.perspectives(), SizeIs(3));
}

// ARCHITECTURE.md §3: revocation status from the CA's CRL (served by nginx); revoked refuses,
// before any probe and without a record.
TEST_F(ClusterEndToEndTest, RefusesARevokedCertificateAndRecordsTheSourceInTheVd) {
  const uint64_t size_before = TreeSize();
  v1::VouchResponse revoked = Vouch(MakeRequest("revoked", absl::Now()));
  ASSERT_TRUE(revoked.has_refusal());
  EXPECT_EQ(revoked.refusal().reason(), v1::CERTIFICATE_REVOKED);
  EXPECT_THAT(revoked.refusal().explanation(), HasSubstr("issuing-ca.crl"));
  EXPECT_THAT(revoked.perspectives(), SizeIs(0));
  EXPECT_EQ(TreeSize(), size_before);

  v1::VouchResponse issued = Vouch(MakeRequest("server", absl::Now()));
  ASSERT_TRUE(issued.has_vouching_data()) << issued.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(issued.vouching_data().statement()));
  EXPECT_EQ(statement.revocation_source(), v1::CRL);
  EXPECT_GT(statement.revocation_checked_at_unix_seconds(), 0);
  v1::QuorumRecord record = GetRecord(issued.log_index());
  ASSERT_THAT(record.revocation(), SizeIs(1));
  EXPECT_EQ(record.revocation(0).source(), v1::CRL);
}

// Trust rule 8: probe rounds per hostname are bounded (kProbeRoundsPerHostname per hour here).
// The name does not resolve, so every round is refused after probing — and still counts.
TEST_F(ClusterEndToEndTest, LimitsProbeRoundsPerHostname) {
  const std::string host = "limited.mecai.test";
  ASSERT_TRUE(cluster_->IssueServerCertificate(host, "limited").ok());
  for (uint32_t round = 0; round < kProbeRoundsPerHostname; ++round) {
    v1::VouchResponse response = Vouch(MakeRequest("limited", absl::Now(), host));
    ASSERT_EQ(response.refusal().reason(), v1::RESOLUTION_FAILED) << "round " << round;
  }
  v1::VouchResponse limited = Vouch(MakeRequest("limited", absl::Now(), host));
  EXPECT_EQ(limited.refusal().reason(), v1::RATE_LIMITED);
  EXPECT_THAT(
      limited.refusal().explanation(),
      HasSubstr(absl::StrCat("had ", kProbeRoundsPerHostname, " probe rounds in the last 1h")));
  EXPECT_THAT(limited.perspectives(), SizeIs(0));
  // Other hostnames are not affected.
  EXPECT_TRUE(Vouch(MakeRequest("server", absl::Now())).has_vouching_data());
}

TEST_F(ClusterEndToEndTest, RefusesABadSignatureBeforeProbing) {
  v1::VouchingRequest request;
  ASSERT_TRUE(request.ParseFromString(MakeRequest("server", absl::Now())));
  std::string* signature = request.mutable_single()->mutable_signature()->mutable_value();
  (*signature)[signature->size() / 2] ^= 0x01;
  const uint64_t size_before = TreeSize();
  v1::VouchResponse response = Vouch(request.SerializeAsString());
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::BAD_SIGNATURE);
  EXPECT_THAT(response.perspectives(), SizeIs(0));
  EXPECT_EQ(TreeSize(), size_before);
}

// A VR the server really signed, for a name every agent would refuse (an R-LDH label, RFC 5890
// §2.3.1): the coordinator refuses it by the same hostname rule, before any agent is asked and
// without spending the name's probe budget or a log record.
TEST_F(ClusterEndToEndTest, RefusesANameTheAgentsWouldRefuseBeforeProbing) {
  const uint64_t size_before = TreeSize();
  v1::VouchResponse response = Vouch(MakeRequest("server", absl::Now(), "ab--cd.mecai.test"));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::MALFORMED_REQUEST);
  EXPECT_THAT(response.refusal().explanation(), HasSubstr("reserved for A-labels"));
  EXPECT_THAT(response.perspectives(), SizeIs(0));
  EXPECT_EQ(TreeSize(), size_before);
}

TEST_F(ClusterEndToEndTest, RefusesAStaleTimestamp) {
  v1::VouchResponse response = Vouch(MakeRequest("server", absl::Now() - absl::Minutes(10)));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::STALE_TIMESTAMP);
  EXPECT_THAT(response.perspectives(), SizeIs(0));
  v1::VouchResponse future = Vouch(MakeRequest("server", absl::Now() + absl::Minutes(10)));
  EXPECT_EQ(future.refusal().reason(), v1::STALE_TIMESTAMP);
}

TEST_F(ClusterEndToEndTest, AnswersAnIdenticalRequestFromItsRecord) {
  const std::string request = MakeRequest("server", absl::Now());
  v1::VouchResponse first = Vouch(request);
  ASSERT_TRUE(first.has_vouching_data()) << first.refusal().explanation();
  const uint64_t size_after_first = TreeSize();
  v1::VouchResponse second = Vouch(request);
  EXPECT_TRUE(second.served_from_record());
  EXPECT_EQ(second.log_index(), first.log_index());
  EXPECT_EQ(second.vouching_data().SerializeAsString(), first.vouching_data().SerializeAsString());
  EXPECT_EQ(TreeSize(), size_after_first);
}

// Agents probe a VR once, so the coordinator must never probe one twice: identical VRs sent at
// the same moment are decided once. The others are answered from the record, or ABORTED while
// the first is still being decided; none is refused, and the log grows by one record.
TEST_F(ClusterEndToEndTest, IdenticalRequestsSentAtOnceAreProbedOnce) {
  const std::string request = MakeRequest("server", absl::Now());
  const uint64_t size_before = TreeSize();
  constexpr int kCalls = 4;
  std::vector<absl::StatusOr<v1::VouchResponse>> responses(kCalls,
                                                           absl::UnknownError("not answered"));
  std::atomic<int> ready{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kCalls) {
      }
      responses[i] = CallVouch(**channel_, request);
    });
  }
  for (std::thread& caller : callers) caller.join();
  int issued = 0;
  for (const absl::StatusOr<v1::VouchResponse>& response : responses) {
    if (!response.ok()) {
      EXPECT_EQ(response.status().code(), absl::StatusCode::kAborted) << response.status();
      EXPECT_THAT(response.status().message(),
                  HasSubstr("is being decided by an earlier call; send it again"));
      continue;
    }
    ASSERT_TRUE(response->has_vouching_data()) << response->refusal().explanation();
    if (!response->served_from_record()) ++issued;
  }
  EXPECT_EQ(issued, 1);
  EXPECT_EQ(TreeSize(), size_before + 1);
  // Sent again, it is answered from that one record.
  v1::VouchResponse again = Vouch(request);
  EXPECT_TRUE(again.served_from_record());
  EXPECT_TRUE(again.has_vouching_data());
}

TEST_F(ClusterEndToEndTest, RecordsAreProvablyInTheSignedLog) {
  Vouch(MakeRequest("server", absl::Now()));
  auto stub = v1::AuditService::NewStub(*channel_);
  grpc::ClientContext checkpoint_context;
  v1::GetCheckpointResponse checkpoint;
  ASSERT_TRUE(
      stub->GetCheckpoint(&checkpoint_context, v1::GetCheckpointRequest(), &checkpoint).ok());
  v1::CheckpointBody body;
  ASSERT_TRUE(body.ParseFromString(checkpoint.checkpoint().tbs()));
  ASSERT_GE(body.tree_size(), 1u);
  // Signed by the VA's log key, not by the VA key the certificate carries.
  auto log_key = LoadPemPublicKey(cluster_->Path("pki/log-key.pub.pem"));
  ASSERT_TRUE(log_key.ok()) << log_key.status();
  EXPECT_TRUE(VerifyObject(log_key->get(), SignedObject::kCheckpoint,
                           checkpoint.checkpoint().signature(), checkpoint.checkpoint().tbs())
                  .ok());
  auto va_certificate = ParseDerCertificate(checkpoint.checkpoint().va_certificate_chain_der(0));
  ASSERT_TRUE(va_certificate.ok());
  EvpPkeyPtr va_key(X509_get_pubkey(va_certificate->get()));
  EXPECT_FALSE(VerifyObject(va_key.get(), SignedObject::kCheckpoint,
                            checkpoint.checkpoint().signature(), checkpoint.checkpoint().tbs())
                   .ok());
  for (uint64_t index = 0; index < body.tree_size(); ++index) {
    grpc::ClientContext context;
    v1::GetInclusionProofRequest request;
    request.set_log_index(index);
    request.set_tree_size(body.tree_size());
    v1::GetInclusionProofResponse proof;
    ASSERT_TRUE(stub->GetInclusionProof(&context, request, &proof).ok());
    std::vector<std::string> path(proof.audit_path().begin(), proof.audit_path().end());
    EXPECT_TRUE(
        VerifyInclusion(proof.leaf_hash(), index, body.tree_size(), path, body.root_hash()).ok())
        << "index " << index;
    EXPECT_EQ(proof.leaf_hash(), *LeafHashOfRecord(GetRecord(index).SerializeAsString()));
  }
}

// `mecai audit --verify`: every record is provably in the signed log, a later run is consistent
// with the checkpoint kept from the earlier one, and a rewritten history is reported as a fork.
TEST_F(ClusterEndToEndTest, AuditVerifiesRecordsCheckpointsAndConsistency) {
  Vouch(MakeRequest("server", absl::Now()));
  AuditOptions options;
  options.vouching_server = cluster_->CoordinatorPeer();
  options.verify = true;
  options.va_list_file = cluster_->VaListFile();
  options.state_file = cluster_->Path("audit-state");
  std::ostringstream first_output;
  auto first = RunAudit(options, first_output);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->problems, SizeIs(0));
  EXPECT_EQ(first->records_listed, first->tree_size);
  EXPECT_THAT(first_output.str(), HasSubstr("ISSUED"));

  Vouch(MakeRequest("server", absl::Now()));
  std::ostringstream second_output;
  auto second = RunAudit(options, second_output);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->problems, SizeIs(0));
  EXPECT_GT(second->tree_size, first->tree_size);
  EXPECT_THAT(second_output.str(), HasSubstr("consistent with the checkpoint of"));

  // A kept checkpoint whose root differs: the served log is not an extension of it.
  auto kept = ReadFile(options.state_file);
  ASSERT_TRUE(kept.ok());
  v1::CheckpointBody forged;
  ASSERT_TRUE(forged.ParseFromString(*kept));
  forged.set_tree_size(forged.tree_size() - 1);
  ASSERT_TRUE(WriteFileAtomically(options.state_file, forged.SerializeAsString()).ok());
  std::ostringstream third_output;
  auto third = RunAudit(options, third_output);
  ASSERT_TRUE(third.ok()) << third.status();
  ASSERT_THAT(third->problems, SizeIs(1));
  EXPECT_THAT(third->problems[0], HasSubstr("fork"));

  // A kept checkpoint of another log shard: reported, and the state file is left as it was.
  v1::CheckpointBody other_shard = forged;
  other_shard.set_log_shard_id("another-shard");
  ASSERT_TRUE(WriteFileAtomically(options.state_file, other_shard.SerializeAsString()).ok());
  std::ostringstream other_shard_output;
  auto fourth = RunAudit(options, other_shard_output);
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  ASSERT_THAT(fourth->problems, SizeIs(1));
  EXPECT_THAT(fourth->problems[0],
              HasSubstr("but the state file holds log shard 'another-shard' signed by VA '"));
  EXPECT_EQ(ReadFile(options.state_file).value_or(""), other_shard.SerializeAsString());

  // One record by id, with its inclusion proof.
  AuditOptions by_index = options;
  by_index.state_file.clear();
  by_index.log_index = 0;
  std::ostringstream one;
  auto single = RunAudit(by_index, one);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->records_listed, 1u);
  EXPECT_THAT(single->problems, SizeIs(0));
  EXPECT_THAT(one.str(), HasSubstr("agent-1 (eu-west): "));
  EXPECT_THAT(one.str(), HasSubstr("revocation: CRL from http://127.0.0.1:"));

  // Listing by hostname.
  AuditOptions by_host;
  by_host.vouching_server = cluster_->CoordinatorPeer();
  by_host.hostname = kRolloverHost;
  std::ostringstream listed;
  auto rollover_records = RunAudit(by_host, listed);
  ASSERT_TRUE(rollover_records.ok());
  EXPECT_THAT(listed.str(), Not(HasSubstr(std::string(LocalCluster::kTargetHost) + ":")));
}

// A removal the trust-list maintainer signed, submitted through the authenticated
// admin call, takes effect at once (in the coordinator and the signer) and is recorded in the log
// with the signed change, which an auditor verifies with the maintainer's public key; the same
// change cannot be applied twice, and an addition with the next sequence restores vouching.
TEST_F(ClusterEndToEndTest, TrustListAdministrationIsImmediateAndRecorded) {
  auto root = LoadPemCertificatesAsDer(cluster_->Path("pki/root-ca.pem"));
  ASSERT_TRUE(root.ok());
  const std::string root_sha256 = Sha256(root->front());
  google::protobuf::RepeatedPtrField<std::string> key_files;
  *key_files.Add() = cluster_->MaintainerPublicKeyFile();
  auto maintainer_keys = MaintainerKeys::Load(key_files);
  ASSERT_TRUE(maintainer_keys.ok()) << maintainer_keys.status();

  TrustListChangeOptions removal;
  removal.vouching_server = cluster_->AdminPeer();
  removal.has_vouching_server = true;
  removal.action = v1::TrustListChange::REMOVE_ROOT;
  removal.trust_list = LocalCluster::kTrustList;
  removal.root_certificate_file = cluster_->Path("pki/root-ca.pem");
  removal.reason = "the TL maintainers revoked trust in this root";
  removal.maintainer_key_file = cluster_->MaintainerKeyFile();
  auto signed_removal = MakeTrustListChange(removal);
  ASSERT_TRUE(signed_removal.ok()) << signed_removal.status();

  // Not an administrator: the stapler identity is refused, even with a signed change.
  EXPECT_THAT(SubmitTrustListChange(cluster_->CoordinatorPeer(), *signed_removal).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("administrator identity")));
  {
    auto response = SubmitTrustListChange(cluster_->AdminPeer(), *signed_removal);
    ASSERT_TRUE(response.ok()) << response.status();
    v1::QuorumRecord record = GetRecord(response->log_index());
    const v1::TrustListChange& change = record.trust_list_change();
    EXPECT_EQ(change.action(), v1::TrustListChange::REMOVE_ROOT);
    EXPECT_EQ(change.root_sha256(), root_sha256);
    EXPECT_EQ(change.administrator(), "admin");
    EXPECT_EQ(change.reason(), "the TL maintainers revoked trust in this root");
    EXPECT_EQ(change.sequence(), 1u);
    EXPECT_EQ(change.maintainer_key_sha256(), maintainer_keys->Fingerprints().at(0));
    auto verified = VerifyTrustListChange(change.signed_change(), *maintainer_keys);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->body.root_sha256(), root_sha256);
  }
  v1::VouchResponse refused = Vouch(MakeRequest("server", absl::Now()));
  EXPECT_EQ(refused.refusal().reason(), v1::ROOT_REMOVED);
  EXPECT_THAT(refused.perspectives(), SizeIs(0)) << "refused before probing";
  {
    auto lists = ListTrustLists(cluster_->AdminPeer());
    ASSERT_TRUE(lists.ok()) << lists.status();
    ASSERT_EQ(lists->trust_lists_size(), 1);
    EXPECT_THAT(lists->trust_lists(0).removed_root_sha256(), testing::ElementsAre(root_sha256));
    EXPECT_EQ(lists->trust_lists(0).last_sequence(), 1u);
    EXPECT_THAT(lists->maintainer_key_sha256(),
                testing::ElementsAreArray(maintainer_keys->Fingerprints()));
  }
  // The same signed change again: refused, it is applied already.
  EXPECT_THAT(SubmitTrustListChange(cluster_->AdminPeer(), *signed_removal).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already applied")));

  TrustListChangeOptions addition = removal;
  addition.action = v1::TrustListChange::ADD_ROOT;
  addition.reason = "trust restored";
  auto signed_addition = MakeTrustListChange(addition);
  ASSERT_TRUE(signed_addition.ok()) << signed_addition.status();
  auto added = SubmitTrustListChange(cluster_->AdminPeer(), *signed_addition);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->change().sequence(), 2u);
  v1::VouchResponse issued = Vouch(MakeRequest("server", absl::Now()));
  EXPECT_TRUE(issued.has_vouching_data()) << issued.refusal().explanation();
}

// Bounded input (trust rule 8): a request over the server's message limit is refused by gRPC
// before any handler runs.
TEST_F(ClusterEndToEndTest, RefusesAnOversizedMessage) {
  auto stub = v1::VouchingService::NewStub(*channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::VouchRequest request;
  request.set_vouching_request(std::string(2 << 20, 'x'));  // Over the 1 MiB default.
  v1::VouchResponse response;
  EXPECT_EQ(stub->Vouch(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The server goes on serving.
  EXPECT_TRUE(Vouch(MakeRequest("server", absl::Now())).has_vouching_data());
}

// Trust rule 7: a certificate of the internal CA is not enough; the identity must be on the
// called server's allowlist. An agent's identity may not ask the coordinator for VDs.
TEST_F(ClusterEndToEndTest, RefusesAnInternalIdentityNotOnTheAllowlist) {
  v1::PeerConfig as_signer = cluster_->CoordinatorPeer();
  as_signer.mutable_tls()->set_certificate_file(cluster_->Path("internal/signer.pem"));
  as_signer.mutable_tls()->set_private_key_file(cluster_->Path("internal/signer.key"));
  auto channel = MakeChannel(as_signer);
  ASSERT_TRUE(channel.ok());
  auto stub = v1::VouchingService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::VouchRequest request;
  request.set_vouching_request(MakeRequest("server", absl::Now()));
  v1::VouchResponse response;
  grpc::Status status = stub->Vouch(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("not on this server's allowlist"));
}

// Slow-loris clients: connections that are opened and never speak do not stop the coordinator
// from serving others.
TEST_F(ClusterEndToEndTest, IdleConnectionsDoNotStarveTheCoordinator) {
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(cluster_->coordinator_port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    idle.push_back(fd);
  }
  v1::VouchResponse response = Vouch(MakeRequest("server", absl::Now()));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  for (int fd : idle) close(fd);
}

// Every service exposes Prometheus metrics that promtool accepts, with the counters the issued
// and refused VRs above produced.
TEST_F(ClusterEndToEndTest, EveryServiceExposesValidMetrics) {
  Vouch(MakeRequest("server", absl::Now()));
  for (const std::string service : {"coordinator", "signer", "agent-1", "agent-2", "agent-3"}) {
    auto port = cluster_->MetricsPort(service);
    ASSERT_TRUE(port.ok()) << port.status();
    const std::string text_file = cluster_->Path("metrics-" + service + ".txt");
    auto fetch = ChildProcess::Start(
        {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", text_file,
         absl::StrCat("http://127.0.0.1:", *port, "/metrics")},
        cluster_->Path("logs/curl-" + service + ".log"));
    ASSERT_TRUE(fetch.ok());
    ASSERT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
    ASSERT_EQ((*fetch)->ExitCode(), 0)
        << TailOfFile(cluster_->Path("logs/curl-" + service + ".log"));
    auto text = ReadFile(text_file);
    ASSERT_TRUE(text.ok());
    const std::string check_script =
        absl::StrCat("promtool check metrics < ", text_file, " > ",
                     cluster_->Path("logs/promtool-" + service + ".log"), " 2>&1");
    auto check = ChildProcess::Start({"sh", "-c", check_script}, "");
    ASSERT_TRUE(check.ok());
    ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
    EXPECT_EQ((*check)->ExitCode(), 0)
        << service << ": " << TailOfFile(cluster_->Path("logs/promtool-" + service + ".log"));
    EXPECT_THAT(*text, HasSubstr("mecai_grpc_server_handled_total{"));
    // The notAfter of the service's internal TLS identity and of its client CA, in Unix seconds
    // (docs/ARCHITECTURE.md "Certificate rotation"); the signer's VA certificate chain too.
    const bool agent = absl::StartsWith(service, "agent-");
    const std::string component = agent ? "probe_agent" : service;
    auto expect_expiry = [&](const std::string& certificate, const std::string& file) {
      auto not_after = EarliestNotAfterUnixSeconds(file);
      ASSERT_TRUE(not_after.ok()) << not_after.status();
      EXPECT_THAT(*text, HasSubstr(absl::StrCat(
                             "mecai_certificate_expiry_timestamp_seconds{certificate=\"",
                             certificate, "\",component=\"", component, "\"} ", *not_after, "\n")))
          << service << " " << certificate;
    };
    expect_expiry("identity", cluster_->Path("internal/" + service + ".pem"));
    expect_expiry("client_ca", cluster_->Path("internal/ca.pem"));
    if (service == "signer") {
      auto signer_config = LoadConfig<v1::SignerConfig>(cluster_->Path("signer.textproto"));
      ASSERT_TRUE(signer_config.ok()) << signer_config.status();
      expect_expiry("va", signer_config->va_certificate_chain_file());
    }
    if (service == "coordinator") {
      EXPECT_THAT(*text, HasSubstr("mecai_coordinator_peer_connected{peer=\"signer\"} 1"));
      EXPECT_THAT(*text, HasSubstr("mecai_coordinator_peer_connected{peer=\"agent-1\"} 1"));
      EXPECT_THAT(*text, HasSubstr("method=\"/mecai.v1.VouchingService/Vouch\""));
      EXPECT_THAT(*text, HasSubstr("mecai_coordinator_decisions_total{decision=\"issued\""));
      EXPECT_THAT(*text, HasSubstr("reason=\"CERTIFICATE_MISMATCH\""));
      EXPECT_THAT(*text, HasSubstr("mecai_coordinator_probe_round_trip_seconds_bucket"));
      EXPECT_THAT(*text, HasSubstr("mecai_coordinator_store_bytes{kind=\"memtables\"}"));
    } else if (service == "signer") {
      EXPECT_THAT(*text, HasSubstr("mecai_signer_signatures_total{kind=\"vouching_data\"}"));
    } else {
      EXPECT_THAT(*text, HasSubstr("mecai_probe_agent_probes_total{outcome=\"PROBE_OK\"}"));
    }
  }
}

}  // namespace
}  // namespace mecai
