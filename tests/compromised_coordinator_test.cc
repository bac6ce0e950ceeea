// The signer against a compromised coordinator: this test holds the coordinator's own mutual-TLS
// identity (from the coordinator's config file of a LocalCluster) and calls the REAL signer binary
// directly with what a coordinator under an attacker's control would send (docs/SECURITY.md T7).
// Every attack must be refused, and no signature the signer makes may pass as a VD for anything
// the evidence does not support.
#include <openssl/x509.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

class CompromisedCoordinatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Each VR is a decision of its own at the next log index: no decision reuse.
    LocalClusterOptions options;
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("cluster", options));
    cluster_ = cluster.release();
    // The coordinator's identity and the signer's address, exactly as the coordinator has them.
    auto config = LoadConfig<v1::CoordinatorConfig>(cluster_->Path("coordinator.textproto"));
    ASSERT_TRUE(config.ok()) << config.status();
    auto signer_channel = MakeChannel(config->signer());
    ASSERT_TRUE(signer_channel.ok()) << signer_channel.status();
    signer_ = v1::SignerService::NewStub(*signer_channel).release();
    auto coordinator_channel = MakeChannel(cluster_->CoordinatorPeer());
    ASSERT_TRUE(coordinator_channel.ok());
    coordinator_channel_ = new std::shared_ptr<grpc::Channel>(*coordinator_channel);
  }

  static void TearDownTestSuite() {
    delete signer_;
    delete coordinator_channel_;
    delete cluster_;
  }

  static grpc::Status SignCheckpoint(const v1::SignCheckpointRequest& request,
                                     v1::SignCheckpointResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return signer_->SignCheckpoint(&context, request, response);
  }

  static grpc::Status SignVouching(const v1::SignVouchingRequest& request,
                                   v1::SignVouchingResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return signer_->SignVouching(&context, request, response);
  }

  // The log's current signed checkpoint, through the coordinator's audit service (which makes the
  // signer sign it).
  static v1::SignedCheckpoint CurrentCheckpoint() {
    auto stub = v1::AuditService::NewStub(*coordinator_channel_);
    grpc::ClientContext context;
    v1::GetCheckpointResponse response;
    grpc::Status status = stub->GetCheckpoint(&context, v1::GetCheckpointRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.checkpoint();
  }

  static v1::VouchResponse VouchForTheServer() {
    absl::StatusOr<std::string> request = SignedRequestFromFiles(
        cluster_->ServerChainFile(), cluster_->ServerKeyFile(), LocalCluster::kTargetHost,
        static_cast<uint32_t>(cluster_->target_port()), LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    absl::StatusOr<v1::VouchResponse> response =
        CallVouch(**coordinator_channel_, request.value_or(""));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::VouchResponse());
  }

  // What the coordinator sent the signer for `record`, rebuilt from the record alone (the VR, every
  // signed Observation, the revocation evidence and the probe round's nonce), at `log_index`.
  // The evidence of a logged decision, as a coordinator would send it to be signed at
  // `log_index`: the record names each revocation response by hash, fetched from the log.
  static v1::SignVouchingRequest EvidenceOf(const v1::QuorumRecord& record, uint64_t log_index) {
    v1::SignVouchingRequest request;
    request.set_vouching_request(record.vouching_request());
    for (const v1::PerspectiveResult& result : record.perspectives()) {
      *request.add_observations() = result.observation();
    }
    for (const v1::RevocationEvidence& evidence : record.revocation()) {
      v1::RevocationEvidence* sent = request.add_revocation();
      *sent = evidence;
      absl::StatusOr<std::string> der =
          CallGetEvidence(**coordinator_channel_, evidence.response_sha256());
      EXPECT_TRUE(der.ok()) << der.status();
      if (der.ok()) sent->set_response_der(*der);
    }
    v1::ObservationBody observed;
    if (request.observations_size() > 0) observed.ParseFromString(request.observations(0).tbs());
    request.set_probe_nonce(observed.nonce());
    request.set_log_shard_id(record.log_shard_id());
    request.set_log_index(log_index);
    return request;
  }

  static LocalCluster* cluster_;
  static v1::SignerService::Stub* signer_;
  static std::shared_ptr<grpc::Channel>* coordinator_channel_;
};

LocalCluster* CompromisedCoordinatorTest::cluster_ = nullptr;
v1::SignerService::Stub* CompromisedCoordinatorTest::signer_ = nullptr;
std::shared_ptr<grpc::Channel>* CompromisedCoordinatorTest::coordinator_channel_ = nullptr;

// The checkpoint-as-VD forgery, with crafted bytes: VouchingStatement fields smuggled into the
// checkpoint as fields CheckpointBody does not know (or knows with another wire type).
TEST_F(CompromisedCoordinatorTest, ACheckpointCarryingStatementFieldsIsRefused) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::string smuggled;
  {
    google::protobuf::io::StringOutputStream raw(&smuggled);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.WriteTag((1 << 3) | 0);  // version
    out.WriteVarint32(kVouchingStatementVersion);
    out.WriteTag((2 << 3) | 2);  // va_id
    out.WriteVarint32(sizeof(LocalCluster::kVaId) - 1);
    out.WriteString(LocalCluster::kVaId);
    out.WriteTag((4 << 3) | 2);  // hostname
    out.WriteVarint32(12);
    out.WriteString("bank.example");
    out.WriteTag((5 << 3) | 0);  // port
    out.WriteVarint32(443);
    out.WriteTag((6 << 3) | 2);  // certificate_sha256
    out.WriteVarint32(32);
    out.WriteString(Sha256("the attacker's misissued certificate"));
    out.WriteTag((13 << 3) | 0);  // issued_at
    out.WriteVarint64(static_cast<uint64_t>(now));
    out.WriteTag((14 << 3) | 0);  // issuance_approved_out_of_band
    out.WriteVarint32(1);
  }
  v1::SignCheckpointRequest request;
  v1::CheckpointBody* checkpoint = request.mutable_checkpoint();
  checkpoint->set_log_shard_id("attacker-shard");
  checkpoint->set_tree_size(42);
  checkpoint->set_root_hash(std::string(32, 'A'));
  checkpoint->set_timestamp_unix_milliseconds(now * 1000);
  checkpoint->GetReflection()
      ->MutableUnknownFields(checkpoint)
      ->ParseFromArray(smuggled.data(), static_cast<int>(smuggled.size()));
  v1::SignCheckpointResponse response;
  grpc::Status status = SignCheckpoint(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("does not know"));
  EXPECT_FALSE(response.has_checkpoint());
}

// Even a checkpoint the signer does sign is no VD: another key, another context.
TEST_F(CompromisedCoordinatorTest, ASignedCheckpointNeverVerifiesAsAVd) {
  VouchForTheServer();
  const v1::SignedCheckpoint checkpoint = CurrentCheckpoint();
  ASSERT_FALSE(checkpoint.tbs().empty());
  v1::VouchingData forged;
  forged.set_statement(checkpoint.tbs());
  *forged.mutable_signature() = checkpoint.signature();
  for (const std::string& der : checkpoint.va_certificate_chain_der()) {
    forged.add_va_certificate_chain_der(der);
  }
  auto vas = VaList::Load(cluster_->VaListFile());
  ASSERT_TRUE(vas.ok()) << vas.status();
  auto leaf = LoadPemCertificatesAsDer(cluster_->ServerLeafFile());
  ASSERT_TRUE(leaf.ok());
  VdExpectation expected;
  expected.hostname = LocalCluster::kTargetHost;
  expected.certificate_der = leaf->front();
  expected.now = absl::Now();
  EXPECT_THAT(VerifyVouchingData(forged, **vas, expected).status().message(),
              HasSubstr("does not verify under the VA certificate"));
}

// A fork: a tree of the log's shard that does not extend the checkpoint the signer signed.
TEST_F(CompromisedCoordinatorTest, AForkOfTheSignedLogIsRefused) {
  VouchForTheServer();
  const v1::SignedCheckpoint signed_checkpoint = CurrentCheckpoint();
  v1::CheckpointBody body;
  ASSERT_TRUE(body.ParseFromString(signed_checkpoint.tbs()));
  ASSERT_GE(body.tree_size(), 1u);

  // Another history of one more leaf, with a proof made for it.
  MerkleTree fork;
  for (uint64_t i = 0; i <= body.tree_size(); ++i) {
    ASSERT_TRUE(fork.AppendLeafHash(LeafHash(absl::StrCat("rewritten record ", i))).ok());
  }
  v1::SignCheckpointRequest request;
  request.mutable_checkpoint()->set_log_shard_id(body.log_shard_id());
  request.mutable_checkpoint()->set_tree_size(body.tree_size() + 1);
  request.mutable_checkpoint()->set_root_hash(fork.RootHash(body.tree_size() + 1).value());
  request.mutable_checkpoint()->set_timestamp_unix_milliseconds(absl::ToUnixMillis(absl::Now()));
  request.set_previous_tree_size(body.tree_size());
  const std::vector<std::string> proof =
      fork.ConsistencyProof(body.tree_size(), body.tree_size() + 1).value();
  for (const std::string& node : proof) request.add_consistency_proof(node);
  v1::SignCheckpointResponse response;
  grpc::Status status = SignCheckpoint(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("is not proven to extend"));

  // A smaller tree of the same shard: refused too.
  request.mutable_checkpoint()->set_tree_size(body.tree_size() - 1);
  request.mutable_checkpoint()->set_root_hash(fork.RootHash(body.tree_size() - 1).value_or(""));
  request.clear_consistency_proof();
  status = SignCheckpoint(request, &response);
  EXPECT_NE(status.error_code(), grpc::StatusCode::OK);
  EXPECT_FALSE(response.has_checkpoint());
}

// Real evidence, replayed from the coordinator's own record, at a log position the record already
// holds (inside the signed tree): refused.
TEST_F(CompromisedCoordinatorTest, ReplayedEvidenceAtATakenLogIndexIsRefused) {
  const v1::VouchResponse vouched = VouchForTheServer();
  ASSERT_TRUE(vouched.has_vouching_data()) << vouched.refusal().explanation();
  CurrentCheckpoint();  // Covers the record.
  absl::StatusOr<v1::QuorumRecord> record =
      CallGetRecord(**coordinator_channel_, vouched.log_index());
  ASSERT_TRUE(record.ok()) << record.status();
  const v1::SignVouchingRequest replay = EvidenceOf(*record, vouched.log_index());
  v1::SignVouchingResponse response;
  grpc::Status status = SignVouching(replay, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("inside the tree the signer last signed"));
  EXPECT_FALSE(response.has_vouching_data());
}

// A log index the signer already gave to a VD (as after a coordinator crash between signing and
// recording) is abandoned in the log, and the decision is signed at the next index.
TEST_F(CompromisedCoordinatorTest, AnIndexTheSignerAlreadyGaveIsAbandonedAndTheDecisionMovesOn) {
  const v1::VouchResponse first = VouchForTheServer();
  ASSERT_TRUE(first.has_vouching_data()) << first.refusal().explanation();
  v1::CheckpointBody body;
  ASSERT_TRUE(body.ParseFromString(CurrentCheckpoint().tbs()));
  const uint64_t next_index = body.tree_size();
  absl::StatusOr<v1::QuorumRecord> record =
      CallGetRecord(**coordinator_channel_, first.log_index());
  ASSERT_TRUE(record.ok()) << record.status();
  const v1::SignVouchingRequest claim = EvidenceOf(*record, next_index);
  v1::SignVouchingResponse claimed;
  ASSERT_TRUE(SignVouching(claim, &claimed).ok());
  ASSERT_TRUE(claimed.has_vouching_data());

  const v1::VouchResponse second = VouchForTheServer();
  ASSERT_TRUE(second.has_vouching_data()) << second.refusal().explanation();
  EXPECT_EQ(second.log_index(), next_index + 1);
  absl::StatusOr<v1::QuorumRecord> abandoned = CallGetRecord(**coordinator_channel_, next_index);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  EXPECT_EQ(abandoned->decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_THAT(abandoned->refusal().explanation(), HasSubstr("already given to another VD"));
  // The abandoned record carries the VD the signer gave that index, so the log holds it and the
  // signer signs a checkpoint over it.
  EXPECT_EQ(abandoned->unrecorded_vouching_data().SerializeAsString(),
            claimed.vouching_data().SerializeAsString());
  v1::CheckpointBody after;
  ASSERT_TRUE(after.ParseFromString(CurrentCheckpoint().tbs()));
  EXPECT_GT(after.tree_size(), next_index + 1);
}

// A compromised coordinator that obtained a VD and logs something else at its index gets no
// checkpoint over that index: the signer names the VD the log must take first
// (docs/SECURITY.md T7).
TEST_F(CompromisedCoordinatorTest, AVdTheLogDoesNotHoldGetsNoCheckpointOverItsIndex) {
  const v1::VouchResponse first = VouchForTheServer();
  ASSERT_TRUE(first.has_vouching_data()) << first.refusal().explanation();
  v1::CheckpointBody body;
  ASSERT_TRUE(body.ParseFromString(CurrentCheckpoint().tbs()));
  const uint64_t hidden_index = body.tree_size();
  absl::StatusOr<v1::QuorumRecord> record =
      CallGetRecord(**coordinator_channel_, first.log_index());
  ASSERT_TRUE(record.ok()) << record.status();
  v1::SignVouchingResponse obtained;
  ASSERT_TRUE(SignVouching(EvidenceOf(*record, hidden_index), &obtained).ok());
  ASSERT_TRUE(obtained.has_vouching_data());

  // The attacker's log: the real leaves, then at the VD's index a refusal instead.
  auto audit = v1::AuditService::NewStub(*coordinator_channel_);
  MerkleTree tree;
  for (uint64_t i = 0; i < hidden_index; ++i) {
    grpc::ClientContext context;
    v1::GetInclusionProofRequest request;
    request.set_log_index(i);
    request.set_tree_size(hidden_index);
    v1::GetInclusionProofResponse proof;
    ASSERT_TRUE(audit->GetInclusionProof(&context, request, &proof).ok());
    ASSERT_TRUE(tree.AppendLeafHash(proof.leaf_hash()).ok());
  }
  v1::QuorumRecord decoy;
  decoy.set_log_index(hidden_index);
  decoy.set_log_shard_id(body.log_shard_id());
  decoy.set_decision(v1::REFUSED);
  const std::string decoy_bytes = decoy.SerializeAsString();
  ASSERT_TRUE(tree.AppendLeafHash(*LeafHashOfRecord(decoy_bytes)).ok());
  const uint64_t size = hidden_index + 1;
  v1::SignCheckpointRequest request;
  request.mutable_checkpoint()->set_log_shard_id(body.log_shard_id());
  request.mutable_checkpoint()->set_tree_size(size);
  request.mutable_checkpoint()->set_root_hash(tree.RootHash(size).value());
  request.mutable_checkpoint()->set_timestamp_unix_milliseconds(absl::ToUnixMillis(absl::Now()));
  request.set_previous_tree_size(body.tree_size());
  const std::vector<std::string> consistency =
      tree.ConsistencyProof(body.tree_size(), size).value();
  for (const std::string& node : consistency) request.add_consistency_proof(node);

  // Without the record at the VD's index: the signer asks for it.
  v1::SignCheckpointResponse response;
  ASSERT_TRUE(SignCheckpoint(request, &response).ok());
  EXPECT_FALSE(response.has_checkpoint());
  EXPECT_THAT(response.records_needed(), ::testing::ElementsAre(hidden_index));
  // With the decoy record, proven: the signer names the VD the log does not hold.
  v1::RecordAtIndex* given = request.add_vouched_records();
  given->set_log_index(hidden_index);
  given->set_record(decoy_bytes);
  const std::vector<std::string> inclusion = tree.InclusionProof(hidden_index, size).value();
  for (const std::string& node : inclusion) given->add_inclusion_proof(node);
  response.Clear();
  ASSERT_TRUE(SignCheckpoint(request, &response).ok());
  EXPECT_FALSE(response.has_checkpoint());
  ASSERT_EQ(response.unrecorded_vouching_data_size(), 1);
  EXPECT_EQ(response.unrecorded_vouching_data(0).statement(), obtained.vouching_data().statement());

  // The honest coordinator, meeting that index, records the VD there and the log goes on.
  const v1::VouchResponse next = VouchForTheServer();
  ASSERT_TRUE(next.has_vouching_data()) << next.refusal().explanation();
  absl::StatusOr<v1::QuorumRecord> carried = CallGetRecord(**coordinator_channel_, hidden_index);
  ASSERT_TRUE(carried.ok()) << carried.status();
  EXPECT_EQ(carried->unrecorded_vouching_data().statement(), obtained.vouching_data().statement());
  v1::CheckpointBody after;
  ASSERT_TRUE(after.ParseFromString(CurrentCheckpoint().tbs()));
  EXPECT_GT(after.tree_size(), hidden_index);
}

// The VD's revocation time is what the CA signed into the evidence, whatever time the coordinator
// claims to have obtained it at.
TEST_F(CompromisedCoordinatorTest, TheVdsRevocationTimeIsTheCasNotTheCoordinators) {
  const v1::VouchResponse vouched = VouchForTheServer();
  ASSERT_TRUE(vouched.has_vouching_data()) << vouched.refusal().explanation();
  absl::StatusOr<v1::QuorumRecord> record =
      CallGetRecord(**coordinator_channel_, vouched.log_index());
  ASSERT_TRUE(record.ok()) << record.status();
  // A position nothing holds yet.
  v1::SignVouchingRequest replay = EvidenceOf(*record, vouched.log_index() + 1000);
  ASSERT_GE(replay.revocation_size(), 1);
  int64_t ca_signed_at = 0;
  for (v1::RevocationEvidence& evidence : *replay.mutable_revocation()) {
    ASSERT_EQ(evidence.source(), v1::CRL);
    const unsigned char* der =
        reinterpret_cast<const unsigned char*>(evidence.response_der().data());
    X509CrlPtr crl(d2i_X509_CRL(nullptr, &der, static_cast<long>(evidence.response_der().size())));
    ASSERT_NE(crl, nullptr);
    int days = 0;
    int seconds = 0;
    ASN1_TIME_diff(&days, &seconds, nullptr, X509_CRL_get0_lastUpdate(crl.get()));
    ca_signed_at = absl::ToUnixSeconds(absl::Now()) + days * 86400 + seconds;
    // The coordinator claims it fetched the evidence an hour from now.
    evidence.set_obtained_at_unix_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
  }
  v1::SignVouchingResponse response;
  grpc::Status status = SignVouching(replay, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(response.vouching_data().statement()));
  EXPECT_NEAR(static_cast<double>(statement.revocation_checked_at_unix_seconds()),
              static_cast<double>(ca_signed_at), 2.0);
  EXPECT_LT(statement.revocation_checked_at_unix_seconds(), absl::ToUnixSeconds(absl::Now()));
}

}  // namespace
}  // namespace mecai
