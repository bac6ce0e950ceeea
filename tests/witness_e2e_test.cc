// A VA's log witnessed by a real witness (docs/PUBLIC_LOG.md "Witnesses"): the cluster's
// coordinator and signer sign checkpoint notes with an Ed25519 log key in SoftHSM2, the coordinator
// submits each to the witness (its own key in its own SoftHSM2 token), and stores the note with the
// cosignature. A witness killed with SIGKILL delays no checkpoint; once back, it cosigns again.
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/cosigned_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"
#include "witness/testing/witness_process.h"

namespace mecai {
namespace {

constexpr char kWitnessName[] = "witness.va-b.example/w1";

class WitnessE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The witness's token first: the cluster's token is made after it (SOFTHSM2_CONF).
    ASSERT_OK_AND_ASSIGN(std::string witness_directory,
                         MakeTestDirectory(absl::StrCat(Name(), "-witness")));
    ASSERT_OK_AND_ASSIGN(witness_,
                         witness::WitnessProcess::Create(witness_directory, kWitnessName));
    LocalClusterOptions options;
    options.decision_reuse = false;
    options.log_origin_prefix = "log.va-a.example/mecai";
    options.coordinator_overrides.set_checkpoint_interval_seconds(1);
    Adjust(options);
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(Name(), options));

    ASSERT_OK_AND_ASSIGN(std::string vkey, ReadFile(cluster_->LogVkeyFile()));
    const std::string log_vkey(absl::StripTrailingAsciiWhitespace(vkey));
    ASSERT_OK_AND_ASSIGN(log_key_, ParseVerifierKey(log_vkey));
    witness_->config().add_logs()->add_vkeys(log_vkey);
    // Port 0: the witness binds a free port, which its restarts keep; no port is picked ahead
    // that another process could take first. The coordinator is then told where the witness is
    // and restarted, as an operator adds a witness (docs/PUBLIC_LOG.md "Witnesses").
    ASSERT_OK(witness_->Start());
    witness_->config().set_listen_address(absl::StrCat("127.0.0.1:", witness_->port()));
    ASSERT_OK(EditConfig<v1::CoordinatorConfig>(
        cluster_->Path("coordinator.textproto"), [&](v1::CoordinatorConfig& config) {
          v1::WitnessEndpoint* endpoint = config.add_witnesses();
          endpoint->set_url(absl::StrCat("http://127.0.0.1:", witness_->port()));
          endpoint->set_vkey(FormatCosignerVkey(witness_->key()));
          endpoint->set_timeout_milliseconds(2000);
        }));
    ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
    ASSERT_OK(cluster_->RestartCoordinator());
    ASSERT_OK_AND_ASSIGN(channel_, MakeChannel(cluster_->CoordinatorPeer()));
  }

  // What a variant of the test changes in the cluster, and its directories' name.
  virtual void Adjust(LocalClusterOptions& options) {}
  virtual std::string Name() const { return "witness-e2e"; }

  // One VR issued: its VD.
  absl::StatusOr<v1::VouchingData> Issue() {
    ASSIGN_OR_RETURN(std::string request,
                     SignedRequestFromFiles(cluster_->ServerChainFile(), cluster_->ServerKeyFile(),
                                            LocalCluster::kTargetHost,
                                            static_cast<uint32_t>(cluster_->target_port()),
                                            LocalCluster::kTrustList, absl::Now()));
    ASSIGN_OR_RETURN(v1::VouchResponse response, CallVouch(*channel_, request));
    if (!response.has_vouching_data()) return absl::InternalError(response.DebugString());
    return response.vouching_data();
  }

  // One VR answered, one more record in the log.
  void Vouch() {
    ASSERT_OK_AND_ASSIGN(
        std::string request,
        SignedRequestFromFiles(
            cluster_->ServerChainFile(), cluster_->ServerKeyFile(), LocalCluster::kTargetHost,
            static_cast<uint32_t>(cluster_->target_port()), LocalCluster::kTrustList, absl::Now()));
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, CallVouch(*channel_, request));
    ASSERT_TRUE(response.has_vouching_data()) << response.DebugString();
  }

  // The stored checkpoint of the shard (AuditService.GetCheckpoint).
  absl::StatusOr<v1::SignedCheckpoint> Checkpoint() {
    auto stub = v1::AuditService::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetCheckpointRequest request;
    request.set_log_shard_id(LocalCluster::kShardId);
    v1::GetCheckpointResponse response;
    grpc::Status status = stub->GetCheckpoint(&context, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response.checkpoint();
  }

  // Waits (up to 60 s) for a stored checkpoint note of at least `size` leaves that `cosigned` says
  // is cosigned or not; returns its verification by VerifyCosignedCheckpoint with k = 1.
  absl::StatusOr<CosignedCheckpoint> AwaitCheckpoint(uint64_t size, bool cosigned) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    absl::Status last = absl::DeadlineExceededError("no checkpoint");
    while (absl::Now() < deadline) {
      absl::StatusOr<v1::SignedCheckpoint> checkpoint = Checkpoint();
      if (checkpoint.ok() && !checkpoint->note().empty()) {
        absl::StatusOr<CosignedCheckpoint> verified =
            VerifyCosignedCheckpoint(checkpoint->note(), log_key_, {witness_->key()}, 1);
        absl::StatusOr<CosignedCheckpoint> alone =
            VerifyCosignedCheckpoint(checkpoint->note(), log_key_, {witness_->key()}, 0);
        if (alone.ok() && alone->checkpoint.tree_size >= size && verified.ok() == cosigned) {
          if (cosigned) return verified;
          last = verified.status();
          return absl::StatusOr<CosignedCheckpoint>(last);
        }
        last = verified.ok() ? absl::OkStatus() : verified.status();
      } else if (!checkpoint.ok()) {
        last = checkpoint.status();
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    return absl::DeadlineExceededError(absl::StrCat("no checkpoint of ", size, " leaves ",
                                                    cosigned ? "cosigned" : "without cosignature",
                                                    " within 60 s; last: ", last.ToString()));
  }

  std::unique_ptr<witness::WitnessProcess> witness_;
  std::unique_ptr<LocalCluster> cluster_;
  NoteVerifierKey log_key_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(WitnessE2eTest, TheCoordinatorStoresCosignedNotesAndAWitnessDownDelaysNothing) {
  Vouch();
  Vouch();
  ASSERT_OK_AND_ASSIGN(CosignedCheckpoint first, AwaitCheckpoint(2, /*cosigned=*/true));
  EXPECT_THAT(first.cosigners, testing::ElementsAre(kWitnessName));
  EXPECT_EQ(first.checkpoint.origin,
            absl::StrCat("log.va-a.example/mecai/", LocalCluster::kShardId));

  // The witness dies: checkpoints go on being signed, without its cosignature.
  ASSERT_OK(witness_->Kill(SIGKILL));
  Vouch();
  const uint64_t down_size = first.checkpoint.tree_size + 1;
  absl::StatusOr<CosignedCheckpoint> uncosigned = AwaitCheckpoint(down_size, /*cosigned=*/false);
  EXPECT_THAT(uncosigned, test_pki::StatusIs(absl::StatusCode::kPermissionDenied,
                                             absl::StrCat("0 of the required 1 cosignatures: no "
                                                          "signature of witness ",
                                                          kWitnessName)));

  // Back, with the state it had: it cosigns the next checkpoint from the size it holds.
  ASSERT_OK(witness_->Start());
  Vouch();
  ASSERT_OK_AND_ASSIGN(CosignedCheckpoint again, AwaitCheckpoint(down_size + 1, true));
  EXPECT_GE(again.checkpoint.tree_size, down_size + 1);
  EXPECT_THAT(again.cosigners, testing::ElementsAre(kWitnessName));
}

// Logged VDs (docs/VOUCHING_DATA.md "Logged VDs") wait for the witnesses' round of their
// checkpoint, and carry the note with the cosignatures in it.
class LoggedWitnessE2eTest : public WitnessE2eTest {
 protected:
  void Adjust(LocalClusterOptions& options) override {
    options.logged_vouching_data = true;
    options.batch_interval_milliseconds = 200;
  }
  std::string Name() const override { return "logged-witness-e2e"; }
};

TEST_F(LoggedWitnessE2eTest, ALoggedVdCarriesTheWitnessCosignature) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::VouchingData vd, Issue());
    ASSERT_TRUE(vd.has_log_proof());
    ASSERT_OK_AND_ASSIGN(
        CosignedCheckpoint cosigned,
        VerifyCosignedCheckpoint(vd.log_proof().checkpoint_note(), log_key_, {witness_->key()}, 1));
    EXPECT_THAT(cosigned.cosigners, testing::ElementsAre(kWitnessName));
  }
}

}  // namespace
}  // namespace mecai
