// The procedures of docs/OPERATIONS.md that change which probe agents the cluster has, and the
// upgrade order, each run as a whole over the real binaries with the steps the document gives, in
// its order, while a steady trickle of VRs goes on: "Adding a probe agent" (signers first, then
// coordinators; the other order refused by the signer), "Removing a probe agent" (coordinators
// first, then signers, then the agent) and "Upgrades" (agents, then signers, then coordinators,
// one at a time). Every VR is issued, or refused or failed only for the reason the document names
// for that step; every VD that left is in the log, and the log verifies afterwards.
#include <signal.h>

#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/audit_client.h"
#include "cluster/local_cluster.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"
#include "tests/support/vr_trickle.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// The running test's name, which names its cluster's directory.
std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

class ProceduresTest : public ::testing::Test {
 protected:
  // A cluster of `agents` probe agents where every VR is a probe round of its own.
  void StartCluster(int agents) {
    LocalClusterOptions options;
    options.perspectives = agents;
    options.decision_reuse = false;
    options.max_probe_rounds_per_hostname = 100000;
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(TestName(), options));
  }

  std::string MakeRequest() const {
    auto request = FreshRequest(*cluster_);
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  std::unique_ptr<VrTrickle> StartTrickle() {
    return std::make_unique<VrTrickle>([this] { return MakeRequest(); },
                                       cluster_->CoordinatorPeer(), absl::Milliseconds(100));
  }

  absl::StatusOr<v1::VouchResponse> AwaitIssued() const { return mecai::AwaitIssued(*cluster_); }

  std::string SignerConfigFile() const { return cluster_->Path("signer.textproto"); }
  std::string CoordinatorConfigFile() const { return cluster_->Path("coordinator.textproto"); }

  // "restart the signers one at a time": the cluster's signer.
  void RestartSigner() {
    ASSERT_OK(cluster_->Kill("signer", SIGTERM));
    ASSERT_OK(cluster_->RestartSigner());
  }

  // "restart the coordinators": the cluster's coordinator; the trickle follows it to its new port.
  void RestartCoordinator(VrTrickle& trickle) {
    ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
    ASSERT_OK(cluster_->RestartCoordinator());
    trickle.SetCoordinator(cluster_->CoordinatorPeer());
  }

  // The text of the coordinator's /metrics.
  std::string CoordinatorMetrics() const {
    auto text = FetchMetrics(*cluster_, "coordinator");
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  // Each issued VD of `outcomes` is exactly what the record at its log index holds, each refusal
  // is recorded at its index, and `mecai audit --verify` finds nothing wrong with the whole log.
  void ExpectEveryAnswerInTheVerifiedLog(const std::vector<VrOutcome>& outcomes) {
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    ASSERT_TRUE(channel.ok()) << channel.status();
    for (const VrOutcome& outcome : outcomes) {
      if (!outcome.call.ok()) continue;
      auto record = CallGetRecord(**channel, outcome.response.log_index());
      ASSERT_TRUE(record.ok()) << "no record at " << outcome.response.log_index() << ": "
                               << record.status();
      if (outcome.response.has_vouching_data()) {
        EXPECT_EQ(record->decision(), v1::ISSUED);
        EXPECT_EQ(record->vouching_data().SerializeAsString(),
                  outcome.response.vouching_data().SerializeAsString());
      } else {
        EXPECT_EQ(record->decision(), v1::REFUSED);
        EXPECT_EQ(record->refusal().reason(), outcome.response.refusal().reason());
      }
    }
    AuditOptions options;
    options.vouching_server = cluster_->CoordinatorPeer();
    options.verify = true;
    options.va_list_file = cluster_->VaListFile();
    std::ostringstream out;
    auto report = RunAudit(options, out);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_THAT(report->problems, SizeIs(0)) << out.str();
  }

  std::unique_ptr<LocalCluster> cluster_;
};

// A failed call is one docs/OPERATIONS.md "Upgrades" names for a restart: UNAVAILABLE, or
// DEADLINE_EXCEEDED from the signer while a signer restarts (steps named "signer…"). Anything else
// is a failure of the procedure.
void ExpectOnlyARestartsFault(const VrOutcome& outcome) {
  EXPECT_TRUE(IsARestartsFault(outcome.call, absl::StartsWith(outcome.step, "signer")))
      << "in step '" << outcome.step << "': " << outcome.call;
}

// Every VR of `outcomes` was issued, or its call failed as a restart may
// (ExpectOnlyARestartsFault); returns how many were issued. `on_issued` sees each issued one.
int ExpectEveryAnsweredVrIssued(const std::vector<VrOutcome>& outcomes,
                                const std::function<void(const VrOutcome&)>& on_issued = {}) {
  int issued = 0;
  for (const VrOutcome& outcome : outcomes) {
    if (!outcome.call.ok()) {
      ExpectOnlyARestartsFault(outcome);
      continue;
    }
    EXPECT_TRUE(outcome.response.has_vouching_data())
        << "in step '" << outcome.step << "': refused "
        << v1::RefusalReason_Name(outcome.response.refusal().reason()) << ": "
        << outcome.response.refusal().explanation();
    if (!outcome.response.has_vouching_data()) continue;
    ++issued;
    if (on_issued) on_issued(outcome);
  }
  return issued;
}

// A short, readable summary of `outcomes` for failure messages.
std::string Summary(const std::vector<VrOutcome>& outcomes) {
  std::string text;
  for (const VrOutcome& outcome : outcomes) {
    absl::StrAppend(&text, "\n  [", outcome.step, "] ");
    if (!outcome.call.ok()) {
      absl::StrAppend(&text, outcome.call.ToString());
    } else if (outcome.response.has_vouching_data()) {
      absl::StrAppend(&text, "issued at ", outcome.response.log_index());
    } else {
      absl::StrAppend(&text, "refused ",
                      v1::RefusalReason_Name(outcome.response.refusal().reason()), ": ",
                      outcome.response.refusal().explanation());
    }
  }
  return text;
}

// The perspective ids of a response, in order.
std::vector<std::string> PerspectiveIds(const v1::VouchResponse& response) {
  std::vector<std::string> ids;
  for (const v1::PerspectiveResult& result : response.perspectives()) {
    ids.push_back(result.perspective().id());
  }
  return ids;
}

// docs/OPERATIONS.md "Adding a probe agent": the agent, then every signer (enrolled, with the
// policy that admits the perspective the coordinators do not ask yet, max_unreachable: 1), then
// the coordinators. No VR is refused at any step; at the end the new perspective is among every
// VR's results and its region's probe round trips are counted.
TEST_F(ProceduresTest, AddingAProbeAgentSignersFirstThenCoordinators) {
  StartCluster(3);
  std::unique_ptr<VrTrickle> trickle = StartTrickle();
  ASSERT_TRUE(trickle->AwaitMore(3, absl::Seconds(30)));

  // 1-2. The agent's keys and identity, and the agent itself.
  trickle->SetStep("start the agent");
  ASSERT_OK_AND_ASSIGN(v1::AgentEndpoint added, cluster_->AddAgent("sa-east"));
  ASSERT_EQ(added.perspective().id(), "agent-4");
  ASSERT_TRUE(trickle->AwaitMore(2, absl::Seconds(30)));

  // 3. Every signer: enrolled, the policy raised; restarted.
  trickle->SetStep("signers");
  ASSERT_OK(EditConfig<v1::SignerConfig>(SignerConfigFile(), [&](v1::SignerConfig& config) {
    v1::AgentEndpoint* agent = config.add_agents();
    *agent->mutable_perspective() = added.perspective();
    agent->set_public_key_file(added.public_key_file());
    config.mutable_policy()->set_max_unreachable(1);
  }));
  RestartSigner();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse between, AwaitIssued());
  EXPECT_THAT(PerspectiveIds(between), ::testing::ElementsAre("agent-1", "agent-2", "agent-3"));
  ASSERT_TRUE(trickle->AwaitMore(2, absl::Seconds(30)));

  // 4. Every coordinator: the agent with its peer address, the same policy; restarted.
  trickle->SetStep("coordinators");
  const std::string before = CoordinatorMetrics();
  EXPECT_EQ(SumOfSamples(before, "mecai_coordinator_probe_round_trip_seconds_count",
                         "region=\"sa-east\""),
            -1);
  ASSERT_OK(EditConfig<v1::CoordinatorConfig>(CoordinatorConfigFile(),
                                              [&](v1::CoordinatorConfig& config) {
                                                *config.add_agents() = added;
                                                config.mutable_policy()->set_max_unreachable(1);
                                              }));
  RestartCoordinator(*trickle);

  // 5. Check: the new perspective among the results, its region's round trips counted.
  trickle->SetStep("check");
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse after, AwaitIssued());
  EXPECT_THAT(PerspectiveIds(after),
              ::testing::ElementsAre("agent-1", "agent-2", "agent-3", "agent-4"));
  for (const v1::PerspectiveResult& result : after.perspectives()) {
    EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED)
        << result.perspective().id() << ": " << result.detail();
  }
  EXPECT_EQ(after.perspectives(3).perspective().region(), "sa-east");
  ASSERT_TRUE(trickle->AwaitMore(3, absl::Seconds(30)));
  EXPECT_GE(SumOfSamples(CoordinatorMetrics(), "mecai_coordinator_probe_round_trip_seconds_count",
                         "region=\"sa-east\""),
            1);

  const std::vector<VrOutcome> outcomes = trickle->Stop();
  const int issued = ExpectEveryAnsweredVrIssued(outcomes, [](const VrOutcome& outcome) {
    if (outcome.step == "check") EXPECT_THAT(outcome.response.perspectives(), SizeIs(4));
  });
  EXPECT_GE(issued, 5) << Summary(outcomes);
  ExpectEveryAnswerInTheVerifiedLog(outcomes);
}

// The order matters: a coordinator that asks an agent before the signers enrolled it presents an
// Observation no signer can verify, and every VR is refused INVALID_OBSERVATION by the signer.
TEST_F(ProceduresTest, AddingAProbeAgentCoordinatorFirstIsRefusedByTheSigner) {
  StartCluster(3);
  ASSERT_OK_AND_ASSIGN(v1::AgentEndpoint added, cluster_->AddAgent("sa-east"));
  ASSERT_OK(EditConfig<v1::CoordinatorConfig>(CoordinatorConfigFile(),
                                              [&](v1::CoordinatorConfig& config) {
                                                *config.add_agents() = added;
                                                config.mutable_policy()->set_max_unreachable(1);
                                              }));
  ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
  ASSERT_OK(cluster_->RestartCoordinator());
  // The coordinator serves once its signer confirmed the log; until then UNAVAILABLE.
  absl::StatusOr<v1::VouchResponse> response = AwaitAnswer(*cluster_);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_refusal());
  EXPECT_EQ(response->refusal().reason(), v1::INVALID_OBSERVATION);
  EXPECT_THAT(response->refusal().explanation(),
              HasSubstr("no agent with id 'agent-4' is enrolled"));
  EXPECT_THAT(response->perspectives(), SizeIs(4)) << "the agents agreed; the signer refused";
  for (const v1::PerspectiveResult& result : response->perspectives()) {
    EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED)
        << result.perspective().id() << ": " << result.detail();
  }
}

// docs/OPERATIONS.md "Removing a probe agent": the signers admit the perspective going away
// (max_unreachable: 1, when they run unanimity), then the coordinators stop asking it, then the
// signers stop accepting it, then the agent stops. No VR is refused at any step.
TEST_F(ProceduresTest, RemovingAProbeAgentCoordinatorsFirstThenSignersThenTheAgent) {
  StartCluster(4);
  std::unique_ptr<VrTrickle> trickle = StartTrickle();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse start, AwaitIssued());
  ASSERT_THAT(start.perspectives(), SizeIs(4));

  // 0. Signers under unanimity first admit one perspective missing.
  trickle->SetStep("signers admit one missing");
  ASSERT_OK(EditConfig<v1::SignerConfig>(SignerConfigFile(), [](v1::SignerConfig& config) {
    config.mutable_policy()->set_max_unreachable(1);
  }));
  RestartSigner();
  ASSERT_OK(AwaitIssued().status());

  // 1. Coordinators stop asking it.
  trickle->SetStep("coordinators");
  ASSERT_OK(
      EditConfig<v1::CoordinatorConfig>(CoordinatorConfigFile(), [](v1::CoordinatorConfig& config) {
        ASSERT_EQ(config.agents(3).perspective().id(), "agent-4");
        config.mutable_agents()->RemoveLast();
      }));
  RestartCoordinator(*trickle);
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse without, AwaitIssued());
  EXPECT_THAT(PerspectiveIds(without), ::testing::ElementsAre("agent-1", "agent-2", "agent-3"));

  // 2. Signers stop accepting it; the policy back to unanimity over three.
  trickle->SetStep("signers");
  ASSERT_OK(EditConfig<v1::SignerConfig>(SignerConfigFile(), [](v1::SignerConfig& config) {
    ASSERT_EQ(config.agents(3).perspective().id(), "agent-4");
    config.mutable_agents()->RemoveLast();
    config.mutable_policy()->set_max_unreachable(0);
  }));
  RestartSigner();
  ASSERT_OK(AwaitIssued().status());

  // 3. The agent stops.
  trickle->SetStep("agent stopped");
  ASSERT_OK(cluster_->Kill("agent-4", SIGTERM));
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse after, AwaitIssued());
  EXPECT_THAT(PerspectiveIds(after), ::testing::ElementsAre("agent-1", "agent-2", "agent-3"));
  ASSERT_TRUE(trickle->AwaitMore(3, absl::Seconds(30)));

  const std::vector<VrOutcome> outcomes = trickle->Stop();
  EXPECT_GE(ExpectEveryAnsweredVrIssued(outcomes), 5) << Summary(outcomes);
  ExpectEveryAnswerInTheVerifiedLog(outcomes);
}

// Why the removal needs step 0 under unanimity: a signer that still expects the agent refuses
// every VR the coordinators decide without it.
TEST_F(ProceduresTest, RemovingAProbeAgentFromCoordinatorsUnderUnanimityIsRefusedByTheSigner) {
  StartCluster(4);
  ASSERT_OK(EditConfig<v1::CoordinatorConfig>(
      CoordinatorConfigFile(),
      [](v1::CoordinatorConfig& config) { config.mutable_agents()->RemoveLast(); }));
  ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
  ASSERT_OK(cluster_->RestartCoordinator());
  absl::StatusOr<v1::VouchResponse> response = AwaitAnswer(*cluster_);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->has_refusal());
  EXPECT_EQ(response->refusal().reason(), v1::PERSPECTIVE_TIMEOUT)
      << response->refusal().explanation();
  EXPECT_THAT(response->perspectives(), SizeIs(3));
}

// docs/OPERATIONS.md "Upgrades": every agent, then the signer, then the coordinator, restarted
// one at a time, each step checked before the next, under a steady trickle of VRs. A VR is issued;
// or, while an agent restarts under unanimity, refused PERSPECTIVE_TIMEOUT for that agent's
// perspective only; or, while the signer or the coordinator restarts, fails UNAVAILABLE. Every
// answered VR is in the log, which verifies afterwards.
TEST_F(ProceduresTest, UpgradeOrderAgentsThenSignersThenCoordinatorsOneAtATime) {
  StartCluster(3);
  std::unique_ptr<VrTrickle> trickle = StartTrickle();
  ASSERT_TRUE(trickle->AwaitMore(3, absl::Seconds(30)));
  for (const std::string agent : {"agent-1", "agent-2", "agent-3"}) {
    trickle->SetStep(agent);
    ASSERT_OK(cluster_->Kill(agent, SIGTERM));
    ASSERT_OK(cluster_->RestartAgent(agent));
    EXPECT_OK(AwaitIssued().status());
    ASSERT_TRUE(trickle->AwaitMore(2, absl::Seconds(30)));
  }
  trickle->SetStep("signer");
  RestartSigner();
  EXPECT_OK(AwaitIssued().status());
  ASSERT_TRUE(trickle->AwaitMore(2, absl::Seconds(30)));
  trickle->SetStep("coordinator");
  RestartCoordinator(*trickle);
  EXPECT_OK(AwaitIssued().status());
  trickle->SetStep("after");
  ASSERT_TRUE(trickle->AwaitMore(3, absl::Seconds(30)));

  const std::vector<VrOutcome> outcomes = trickle->Stop();
  const std::set<std::string> agents = {"agent-1", "agent-2", "agent-3"};
  int issued = 0;
  for (const VrOutcome& outcome : outcomes) {
    if (!outcome.call.ok()) {
      EXPECT_TRUE(outcome.step == "signer" || outcome.step == "coordinator")
          << "failed in step '" << outcome.step << "': " << outcome.call;
      ExpectOnlyARestartsFault(outcome);
      continue;
    }
    if (outcome.response.has_vouching_data()) {
      ++issued;
      continue;
    }
    // Refused: only while an agent restarts, and only for that agent's silence.
    EXPECT_TRUE(agents.count(outcome.step) == 1)
        << "refused in step '" << outcome.step
        << "': " << v1::RefusalReason_Name(outcome.response.refusal().reason()) << ": "
        << outcome.response.refusal().explanation();
    EXPECT_EQ(outcome.response.refusal().reason(), v1::PERSPECTIVE_TIMEOUT)
        << outcome.response.refusal().explanation();
    for (const v1::PerspectiveResult& result : outcome.response.perspectives()) {
      if (result.perspective().id() == outcome.step) continue;
      EXPECT_EQ(result.disagreement(), v1::REFUSAL_REASON_UNSPECIFIED)
          << "in step '" << outcome.step << "', " << result.perspective().id() << ": "
          << result.detail();
    }
  }
  EXPECT_GE(issued, 5) << Summary(outcomes);
  EXPECT_EQ(outcomes.back().step, "after");
  EXPECT_TRUE(outcomes.back().call.ok() && outcomes.back().response.has_vouching_data())
      << Summary(outcomes);
  ExpectEveryAnswerInTheVerifiedLog(outcomes);
}

}  // namespace
}  // namespace mecai
