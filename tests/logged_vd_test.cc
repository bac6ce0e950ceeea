// Logged VDs end to end (docs/VOUCHING_DATA.md "Logged VDs") over the real binaries: the signer
// (SoftHSM2, Ed25519 log key) approves statements and signs one checkpoint note per batch; the
// coordinator answers each VR with a VD proven by its log entry; the client library verifies it,
// and refuses every altered part. A caller with the coordinator's own mutual-TLS identity cannot
// make the signer sign a tree holding a statement it did not approve.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cli/audit_client.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/evidence/log_entry.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr int kConcurrentVrs = 24;

class LoggedVdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.logged_vouching_data = true;
    options.batch_interval_milliseconds = 200;
    options.decision_reuse = false;  // Every VR a decision of its own, with its own entry.
    options.max_probe_rounds_per_hostname = 200;
    // A front coordinator too (docs/ARCHITECTURE.md §14): the sequencer proves its VDs.
    options.fronts = 1;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("logged", options));
    cluster_ = cluster.release();
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel,
                         MakeChannel(cluster_->CoordinatorPeer()));
    channel_ = new std::shared_ptr<grpc::Channel>(channel);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> vas, VaList::Load(cluster_->VaListFile()));
    vas_ = vas.release();
    ASSERT_OK_AND_ASSIGN(std::string chain, ReadFile(cluster_->ServerChainFile()));
    ASSERT_OK_AND_ASSIGN(std::vector<X509Ptr> certificates, ParsePemCertificates(chain));
    server_der_ = new std::string(CertificateToDer(certificates[0].get()));
  }
  static void TearDownTestSuite() {
    delete server_der_;
    delete vas_;
    delete channel_;
    delete cluster_;
  }

  static absl::StatusOr<v1::VouchResponse> VouchFresh() {
    ASSIGN_OR_RETURN(std::string request,
                     SignedRequestFromFiles(cluster_->ServerChainFile(), cluster_->ServerKeyFile(),
                                            LocalCluster::kTargetHost,
                                            static_cast<uint32_t>(cluster_->target_port()),
                                            LocalCluster::kTrustList, absl::Now()));
    return CallVouch(**channel_, request);
  }

  static VdExpectation Expected() {
    VdExpectation expected;
    expected.hostname = LocalCluster::kTargetHost;
    expected.port = static_cast<uint32_t>(cluster_->target_port());
    expected.certificate_der = *server_der_;
    expected.now = absl::Now();
    return expected;
  }

  // A VD verified by a fresh VA list (no cache) and by the shared one.
  static absl::StatusOr<v1::VouchingStatement> Verify(const v1::VouchingData& vd) {
    ASSIGN_OR_RETURN(std::unique_ptr<VaList> fresh, VaList::Load(cluster_->VaListFile()));
    return VerifyVouchingData(vd, *fresh, Expected());
  }

  static double Samples(const std::string& name, const std::string& label) {
    absl::StatusOr<std::string> text = FetchMetrics(*cluster_, "signer");
    EXPECT_TRUE(text.ok()) << text.status();
    return SumOfSamples(text.value_or(""), name, label);
  }

  static LocalCluster* cluster_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static VaList* vas_;
  static std::string* server_der_;
};

LocalCluster* LoggedVdTest::cluster_ = nullptr;
std::shared_ptr<grpc::Channel>* LoggedVdTest::channel_ = nullptr;
VaList* LoggedVdTest::vas_ = nullptr;
std::string* LoggedVdTest::server_der_ = nullptr;

TEST_F(LoggedVdTest, ConcurrentVrsAreProvenByAFewCheckpointNotesAndVerify) {
  const double notes_before =
      std::max(0.0, Samples("mecai_signer_signatures_total", "kind=\"checkpoint_note\""));
  std::vector<absl::StatusOr<v1::VouchResponse>> answers(kConcurrentVrs,
                                                         absl::UnknownError("not answered"));
  {
    std::vector<std::thread> senders;
    for (int i = 0; i < kConcurrentVrs; ++i) {
      senders.emplace_back([&answers, i] { answers[i] = VouchFresh(); });
    }
    for (std::thread& sender : senders) sender.join();
  }
  for (const absl::StatusOr<v1::VouchResponse>& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    ASSERT_TRUE(answer->has_vouching_data()) << answer->refusal().explanation();
    const v1::VouchingData& vd = answer->vouching_data();
    EXPECT_FALSE(vd.has_signature());
    ASSERT_TRUE(vd.has_log_proof());
    ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify(vd));
    EXPECT_EQ(statement.log_index(), answer->log_index());
    // Twice through the shared list: the second costs no signature verification.
    ASSERT_OK(VerifyVouchingData(vd, *vas_, Expected()).status());
    ASSERT_OK(VerifyVouchingData(vd, *vas_, Expected()).status());
    // The entry the VD proves is the record's: its statement, and the record's SHA-256.
    ASSERT_OK_AND_ASSIGN(v1::QuorumRecord record, CallGetRecord(**channel_, answer->log_index()));
    EXPECT_EQ(record.vouching_data().statement(), vd.statement());
    EXPECT_EQ(Sha256(record.SerializeAsString()), vd.log_proof().record_sha256());
  }
  // No VD was signed on its own; the notes are one per batch, far fewer than the VDs.
  EXPECT_LE(Samples("mecai_signer_signatures_total", "kind=\"vouching_data\""), 0);
  const double notes =
      Samples("mecai_signer_signatures_total", "kind=\"checkpoint_note\"") - notes_before;
  EXPECT_GE(notes, 1);
  EXPECT_LT(notes, kConcurrentVrs / 2) << "one note per batch, not per VD";
  EXPECT_GE(Samples("mecai_signer_approved_statements_total", ""), kConcurrentVrs);

  // The log still audits clean: checkpoints signed as notes by the VA list's log key.
  AuditOptions audit;
  audit.vouching_server = cluster_->CoordinatorPeer();
  audit.verify = true;
  audit.va_list_file = cluster_->VaListFile();
  std::ostringstream out;
  ASSERT_OK_AND_ASSIGN(AuditReport report, RunAudit(audit, out));
  EXPECT_TRUE(report.problems.empty()) << out.str();
}

// A front's VR is recorded by the sequencer, which answers once a checkpoint proves the VD: the
// front's caller gets a logged VD that verifies, and the same VR sent again is answered from its
// record, proven again.
TEST_F(LoggedVdTest, AFrontsVdIsProvenByTheSequencersCheckpoint) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> front, MakeChannel(cluster_->FrontPeer(1)));
  ASSERT_OK_AND_ASSIGN(std::string request,
                       SignedRequestFromFiles(cluster_->ServerChainFile(),
                                              cluster_->ServerKeyFile(), LocalCluster::kTargetHost,
                                              static_cast<uint32_t>(cluster_->target_port()),
                                              LocalCluster::kTrustList, absl::Now()));
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse issued, CallVouch(*front, request));
  ASSERT_TRUE(issued.has_vouching_data()) << issued.refusal().explanation();
  EXPECT_TRUE(issued.vouching_data().has_log_proof());
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify(issued.vouching_data()));
  EXPECT_EQ(statement.log_index(), issued.log_index());
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse again, CallVouch(*front, request));
  EXPECT_TRUE(again.served_from_record());
  ASSERT_TRUE(again.vouching_data().has_log_proof());
  ASSERT_OK(Verify(again.vouching_data()).status());
}

TEST_F(LoggedVdTest, EveryAlteredPartOfTheProofIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse answer, VouchFresh());
  ASSERT_TRUE(answer.has_vouching_data()) << answer.refusal().explanation();
  const v1::VouchingData good = answer.vouching_data();
  ASSERT_OK(Verify(good).status());

  v1::VouchingData bad = good;
  std::string* node = bad.mutable_log_proof()->mutable_inclusion_proof(0);
  (*node)[0] ^= 1;
  EXPECT_THAT(Verify(bad), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("is not proven at log index")));

  bad = good;
  bad.mutable_log_proof()->mutable_record_sha256()->back() ^= 1;
  EXPECT_THAT(Verify(bad), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("is not proven at log index")));

  // Another statement (here: another port) under the same proof.
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(good.statement()));
  statement.set_port(statement.port() + 1);
  bad = good;
  bad.set_statement(statement.SerializeAsString());
  VdExpectation any_port = Expected();
  any_port.port = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> fresh, VaList::Load(cluster_->VaListFile()));
  EXPECT_THAT(VerifyVouchingData(bad, *fresh, any_port),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not proven")));

  bad = good;
  bad.mutable_log_proof()
      ->mutable_log_key_endorsement()
      ->mutable_signature()
      ->mutable_value()
      ->back() ^= 1;
  EXPECT_THAT(Verify(bad), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("endorsement does not verify")));

  bad = good;
  std::string& note = *bad.mutable_log_proof()->mutable_checkpoint_note();
  note[note.find('\n') + 1] ^= 1;  // The tree size's first digit.
  EXPECT_THAT(Verify(bad), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("not signed by the endorsed log key")));

  bad = good;
  *bad.mutable_signature() = v1::Signature();
  bad.mutable_signature()->set_value("x");
  EXPECT_THAT(Verify(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("both a signature and a log proof")));
}

// A compromised coordinator, holding its real mutual-TLS identity, logs an entry carrying a
// statement the signer never approved and asks the real signer to sign that tree.
TEST_F(LoggedVdTest, TheSignerSignsNoTreeHoldingAStatementItDidNotApprove) {
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse answer, VouchFresh());
  ASSERT_TRUE(answer.has_vouching_data());
  v1::VouchingStatement forged;
  ASSERT_TRUE(forged.ParseFromString(answer.vouching_data().statement()));
  forged.set_hostname("victim.mecai.test");

  // The signer's current tree, as the coordinator's audit service proves it.
  auto audit = v1::AuditService::NewStub(*channel_);
  grpc::ClientContext list_context;
  v1::ListShardsResponse shards;
  ASSERT_TRUE(audit->ListShards(&list_context, v1::ListShardsRequest(), &shards).ok());
  uint64_t signed_size = 0;
  std::vector<std::string> leaf_hashes;
  // Wait for the signer's checkpoint to cover the whole log (no VR is in flight now).
  for (int attempt = 0; attempt < 50; ++attempt) {
    grpc::ClientContext context;
    v1::GetCheckpointRequest request;
    v1::GetCheckpointResponse response;
    ASSERT_TRUE(audit->GetCheckpoint(&context, request, &response).ok());
    v1::CheckpointBody body;
    ASSERT_TRUE(body.ParseFromString(response.checkpoint().tbs()));
    signed_size = body.tree_size();
    if (signed_size == shards.shards(0).tree_size()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  MerkleTree tree;
  for (uint64_t i = 0; i < signed_size; ++i) {
    grpc::ClientContext context;
    v1::GetInclusionProofRequest request;
    request.set_log_index(i);
    request.set_tree_size(signed_size);
    v1::GetInclusionProofResponse proof;
    ASSERT_TRUE(audit->GetInclusionProof(&context, request, &proof).ok());
    ASSERT_OK(tree.AppendLeafHash(proof.leaf_hash()));
  }
  forged.set_log_index(signed_size);
  const std::string entry =
      LogEntryBytes(forged.SerializeAsString(), Sha256("a record nobody can show"));
  ASSERT_OK(tree.AppendLeafHash(LeafHash(entry)));

  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> signer_channel,
                       MakeChannel(cluster_->SignerPeerAsCoordinator()));
  auto signer = v1::SignerService::NewStub(signer_channel);
  v1::SignCheckpointRequest request;
  request.mutable_checkpoint()->set_log_shard_id(LocalCluster::kShardId);
  request.mutable_checkpoint()->set_tree_size(signed_size + 1);
  request.mutable_checkpoint()->set_root_hash(*tree.RootHash(signed_size + 1));
  request.mutable_checkpoint()->set_timestamp_unix_milliseconds(absl::ToUnixMillis(absl::Now()));
  request.set_previous_tree_size(signed_size);
  // The compact range of the signed tree, from its complete subtrees.
  uint64_t begin = 0;
  for (unsigned height = 64; height-- > 0;) {
    if ((signed_size >> height & 1) == 0) continue;
    request.add_previous_compact_range(*tree.CompleteSubtreeHash(height, begin >> height));
    begin += uint64_t{1} << height;
  }
  request.add_entries(entry);
  grpc::ClientContext context;
  v1::SignCheckpointResponse response;
  grpc::Status status = signer->SignCheckpoint(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(),
              HasSubstr("carries a VD statement this signer did not approve at that index"));
  EXPECT_FALSE(response.has_checkpoint());

  // The same request in the signed-VD form (a consistency proof, no entries) is refused too.
  v1::SignCheckpointRequest proof_form = request;
  proof_form.clear_entries();
  proof_form.clear_previous_compact_range();
  proof_form.add_consistency_proof(std::string(32, 'p'));
  grpc::ClientContext proof_context;
  status = signer->SignCheckpoint(&proof_context, proof_form, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  // The honest coordinator carries on: the next VR is issued and proven.
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse next, VouchFresh());
  ASSERT_TRUE(next.has_vouching_data()) << next.refusal().explanation();
  EXPECT_OK(Verify(next.vouching_data()).status());
}

}  // namespace
}  // namespace mecai
