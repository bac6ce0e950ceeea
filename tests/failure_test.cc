// Failures of the cluster's own parts (issue "Operate and audit", failure tests), over the real
// binaries: an agent that dies is a timeout, never a mismatch, and is recorded; a coordinator
// killed with SIGKILL under load restarts on a store that opens, whose log verifies, and which
// holds the record of every VD it returned; a coordinator started while an agent is down serves
// health and audit at once and uses the agent as soon as it comes up, without a restart.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/audit_client.h"
#include "cluster/binaries.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// The output of a shell command.
std::string RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t read = 0;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, read);
  pclose(pipe);
  return output;
}

std::string Runfile(const std::string& path) {
  const char* runfiles = getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/", path);
}

class FailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    LocalClusterOptions options;
    options.max_probe_rounds_per_hostname = 100000;
    // Every VR under load is a decision of its own, with a record of its own: no decision reuse.
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(absl::StrCat("cluster-", ++counter), options));
    auto chain = LoadPemCertificatesAsDer(cluster_->ServerChainFile());
    auto key = LoadPemPrivateKey(cluster_->ServerKeyFile());
    ASSERT_TRUE(chain.ok() && key.ok());
    chain_ = *chain;
    key_ = std::move(*InMemorySigningKey::Create(std::move(*key)));
  }

  std::string MakeRequest() {
    v1::VouchingRequestBody body;
    body.set_hostname(LocalCluster::kTargetHost);
    body.set_port(static_cast<uint32_t>(cluster_->target_port()));
    body.set_trust_list(LocalCluster::kTrustList);
    body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    body.set_nonce(absl::StrCat("failure-test-", nonce_++));
    auto request = BuildVouchingRequest(body, chain_, *key_);
    EXPECT_TRUE(request.ok());
    return *request;
  }

  // Sends one VR; false when the call itself failed (the coordinator is down).
  bool Vouch(const std::string& serialized, v1::VouchResponse* response) {
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    if (!channel.ok()) return false;
    auto stub = v1::VouchingService::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::VouchRequest request;
    request.set_vouching_request(serialized);
    return stub->Vouch(&context, request, response).ok();
  }

  // Eight clients send VRs until `min_vds` VDs came back (30 s at most); then `interrupt` runs
  // (it kills a part of the cluster) while they go on, and after `settle` they stop. Returns every
  // VD that reached a client.
  std::vector<v1::VouchingData> VouchUnderLoadUntil(size_t min_vds,
                                                    const std::function<void()>& interrupt,
                                                    absl::Duration settle) {
    std::mutex mutex;
    std::vector<v1::VouchingData> returned;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          v1::VouchResponse response;
          if (!Vouch(MakeRequest(), &response)) continue;
          if (response.has_vouching_data()) {
            std::lock_guard<std::mutex> lock(mutex);
            returned.push_back(response.vouching_data());
          }
        }
      });
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (returned.size() >= min_vds) break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    interrupt();
    absl::SleepFor(settle);
    stop = true;
    for (auto& client : clients) client.join();
    return returned;
  }

  // `mecai audit --verify` of the whole log against a freshly signed checkpoint finds nothing
  // wrong; returns the tree size.
  uint64_t ExpectTheLogVerifies() {
    std::string output;
    auto report = AuditWholeLog(*cluster_, &output);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return 0;
    EXPECT_THAT(report->problems, SizeIs(0)) << output;
    return report->tree_size;
  }

  // Each VD of `vds` is exactly what the issued record at its log index holds.
  void ExpectEachVdInItsRecord(const std::vector<v1::VouchingData>& vds) {
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    ASSERT_TRUE(channel.ok());
    auto audit = v1::AuditService::NewStub(*channel);
    for (const v1::VouchingData& vd : vds) {
      v1::VouchingStatement statement;
      ASSERT_TRUE(statement.ParseFromString(vd.statement()));
      grpc::ClientContext context;
      v1::GetRecordRequest request;
      request.set_log_index(statement.log_index());
      v1::GetRecordResponse record;
      ASSERT_TRUE(audit->GetRecord(&context, request, &record).ok())
          << "no record at " << statement.log_index();
      EXPECT_EQ(record.record().decision(), v1::ISSUED);
      EXPECT_EQ(record.record().vouching_data().SerializeAsString(), vd.SerializeAsString());
    }
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::string> chain_;
  std::unique_ptr<InMemorySigningKey> key_;
  std::atomic<int> nonce_{0};
};

// Waits (at most 30 s) until `process` wrote a port to `port_file`.
absl::StatusOr<int> AwaitPort(ChildProcess& process, const std::string& port_file) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    auto text = ReadFile(port_file);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      return port;
    }
    if (!process.Running()) {
      return absl::InternalError(absl::StrCat("exited: ", TailOfFile(process.log_path())));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("no port in ", port_file));
}

// The text of http://127.0.0.1:`port`/metrics, fetched with curl.
std::string FetchMetrics(const LocalCluster& cluster, int port, const std::string& name) {
  const std::string text_file = cluster.Path("metrics-" + name + ".txt");
  auto fetch = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", text_file,
       absl::StrCat("http://127.0.0.1:", port, "/metrics")},
      cluster.Path("logs/curl-" + name + ".log"));
  EXPECT_TRUE(fetch.ok());
  if (!fetch.ok()) return "";
  EXPECT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*fetch)->ExitCode(), 0) << TailOfFile(cluster.Path("logs/curl-" + name + ".log"));
  return ReadFile(text_file).value_or("");
}

// grpc.health.v1.Health/Check of the overall status through `channel` (grpc++ ships no health
// client): the serialized HealthCheckResponse, "\x08\x01" for SERVING.
std::string HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request;  // HealthCheckRequest{service: ""}: the empty message.
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  if (!done.get_future().get().ok()) return "call failed";
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return "";
  std::string serialized;
  for (const grpc::Slice& slice : slices) {
    serialized.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return serialized;
}

// docs/ARCHITECTURE.md "Peers and load": an agent that is down when the coordinator starts does
// not stop it. The coordinator serves health and audit at once, refuses VRs for the missing
// perspective, shows the agent in mecai_coordinator_peer_connected, and once the agent is started
// uses it without a restart.
TEST_F(FailureTest, ACoordinatorStartsWithAnAgentDownAndUsesItOnceItIsUp) {
  ASSERT_OK_AND_ASSIGN(BinaryPaths binaries, FindClusterBinaries());
  ASSERT_OK_AND_ASSIGN(int agent_port, PickFreeTcpPort());
  const std::string agent_address = absl::StrCat("127.0.0.1:", agent_port);
  ASSERT_OK_AND_ASSIGN(auto config,
                       LoadConfig<v1::CoordinatorConfig>(cluster_->Path("coordinator.textproto")));
  ASSERT_EQ(config.agents(1).perspective().id(), "agent-2");
  config.mutable_agents(1)->mutable_peer()->set_address(agent_address);
  config.set_store_path(cluster_->Path("store/agent-down"));
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_listen()->set_port_file(cluster_->Path("run/agent-down.port"));
  config.mutable_listen()->set_metrics_address("127.0.0.1:0");
  config.mutable_listen()->set_metrics_port_file(cluster_->Path("run/agent-down.metrics-port"));
  config.mutable_listen()->clear_health_address();
  config.clear_public_listen();
  config.set_startup_connect_timeout_milliseconds(1000);
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const std::string config_file = cluster_->Path("agent-down-coordinator.textproto");
  ASSERT_OK(WriteFileAtomically(config_file, text));
  ASSERT_OK_AND_ASSIGN(auto coordinator,
                       ChildProcess::Start({binaries.coordinator, "--config", config_file},
                                           cluster_->Path("logs/agent-down-coordinator.log")));
  ASSERT_OK_AND_ASSIGN(int port, AwaitPort(*coordinator, config.listen().port_file()));
  ASSERT_OK_AND_ASSIGN(int metrics_port,
                       AwaitPort(*coordinator, config.listen().metrics_port_file()));
  EXPECT_THAT(TailOfFile(coordinator->log_path(), 20000),
              HasSubstr("starting without agent-2 at " + agent_address));

  v1::PeerConfig peer = cluster_->CoordinatorPeer();
  peer.set_address(absl::StrCat("127.0.0.1:", port));
  ASSERT_OK_AND_ASSIGN(auto channel, MakeChannel(peer));
  EXPECT_EQ(HealthCheck(channel), std::string("\x08\x01", 2)) << "SERVING";
  {
    auto audit = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListShardsResponse shards;
    ASSERT_TRUE(audit->ListShards(&context, v1::ListShardsRequest(), &shards).ok());
    ASSERT_THAT(shards.shards(), SizeIs(1));
  }
  auto vouch = [&](v1::VouchResponse* response) {
    auto stub = v1::VouchingService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::VouchRequest request;
    request.set_vouching_request(MakeRequest());
    return stub->Vouch(&context, request, response).ok();
  };
  v1::VouchResponse refused;
  ASSERT_TRUE(vouch(&refused));
  ASSERT_TRUE(refused.has_refusal());
  EXPECT_EQ(refused.refusal().reason(), v1::PERSPECTIVE_TIMEOUT);
  ASSERT_THAT(refused.perspectives(), SizeIs(3));
  EXPECT_EQ(refused.perspectives(1).disagreement(), v1::PERSPECTIVE_TIMEOUT);
  const std::string down = FetchMetrics(*cluster_, metrics_port, "agent-down-before");
  EXPECT_THAT(down, HasSubstr("mecai_coordinator_peer_connected{peer=\"agent-2\"} 0"));
  EXPECT_THAT(down, HasSubstr("mecai_coordinator_peer_connected{peer=\"agent-1\"} 1"));
  EXPECT_THAT(down, HasSubstr("mecai_coordinator_peer_connected{peer=\"signer\"} 1"));

  // The agent comes up at the address the coordinator names: a second process of perspective
  // agent-2, with its key and config.
  ASSERT_OK_AND_ASSIGN(auto agent_config, LoadConfig<v1::ProbeAgentConfig>(
                                              cluster_->Path("agents/agent-2.textproto")));
  agent_config.mutable_listen()->set_address(agent_address);
  agent_config.mutable_listen()->set_port_file(cluster_->Path("run/late-agent.port"));
  agent_config.mutable_listen()->clear_metrics_address();
  agent_config.mutable_listen()->clear_metrics_port_file();
  agent_config.mutable_listen()->clear_health_address();
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(agent_config, &text));
  const std::string agent_file = cluster_->Path("late-agent.textproto");
  ASSERT_OK(WriteFileAtomically(agent_file, text));
  ASSERT_OK_AND_ASSIGN(auto agent,
                       ChildProcess::Start({binaries.probe_agent, "--config", agent_file},
                                           cluster_->Path("logs/late-agent.log")));
  ASSERT_OK(AwaitPort(*agent, agent_config.listen().port_file()).status());

  // The coordinator reconnects within its reconnect backoff (at most 10 s, common/rpc).
  v1::VouchResponse issued;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    issued.Clear();
    ASSERT_TRUE(vouch(&issued));
    if (issued.has_vouching_data()) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_TRUE(issued.has_vouching_data()) << issued.refusal().explanation();
  EXPECT_TRUE(coordinator->Running()) << "no restart";
  // The peer monitor looks at the channels once a second (coordinator/peer_monitor.h).
  const std::string connected = "mecai_coordinator_peer_connected{peer=\"agent-2\"} 1";
  std::string after;
  for (int attempt = 0; attempt < 20; ++attempt) {
    after = FetchMetrics(*cluster_, metrics_port, "agent-down-after");
    if (after.find(connected) != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_THAT(after, HasSubstr(connected));
}

TEST_F(FailureTest, AKilledAgentIsUnreachableNotAMismatchAndIsRecorded) {
  ASSERT_TRUE(cluster_->Kill("agent-3", SIGKILL).ok());
  v1::VouchResponse response;
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::PERSPECTIVE_TIMEOUT);
  EXPECT_THAT(response.refusal().explanation(), HasSubstr("1 of 3 perspectives did not answer"));
  ASSERT_THAT(response.perspectives(), SizeIs(3));
  EXPECT_EQ(response.perspectives(0).disagreement(), v1::REFUSAL_REASON_UNSPECIFIED);
  EXPECT_EQ(response.perspectives(1).disagreement(), v1::REFUSAL_REASON_UNSPECIFIED);
  EXPECT_EQ(response.perspectives(2).disagreement(), v1::PERSPECTIVE_TIMEOUT);
  EXPECT_EQ(response.perspectives(2).perspective().id(), "agent-3");

  auto channel = MakeChannel(cluster_->CoordinatorPeer());
  ASSERT_TRUE(channel.ok());
  auto audit = v1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  v1::GetRecordRequest request;
  request.set_log_index(response.log_index());
  v1::GetRecordResponse record;
  ASSERT_TRUE(audit->GetRecord(&context, request, &record).ok());
  EXPECT_EQ(record.record().decision(), v1::REFUSED);
  EXPECT_EQ(record.record().refusal().reason(), v1::PERSPECTIVE_TIMEOUT);
}

// The agent is stopped (it holds the connection but answers nothing), the round starts, and the
// agent is killed while the coordinator waits for it.
TEST_F(FailureTest, AnAgentKilledMidRoundIsUnreachableAndRecorded) {
  ASSERT_TRUE(cluster_->Signal("agent-2", SIGSTOP).ok());
  v1::VouchResponse response;
  bool answered = false;
  std::thread round([&] { answered = Vouch(MakeRequest(), &response); });
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(cluster_->Kill("agent-2", SIGKILL).ok());
  round.join();
  ASSERT_TRUE(answered);
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::PERSPECTIVE_TIMEOUT);
  ASSERT_THAT(response.perspectives(), SizeIs(3));
  EXPECT_EQ(response.perspectives(1).perspective().id(), "agent-2");
  EXPECT_EQ(response.perspectives(1).disagreement(), v1::PERSPECTIVE_TIMEOUT);
  EXPECT_NE(response.perspectives(0).disagreement(), v1::CERTIFICATE_MISMATCH);
  EXPECT_NE(response.perspectives(2).disagreement(), v1::CERTIFICATE_MISMATCH);
  auto channel = MakeChannel(cluster_->CoordinatorPeer());
  ASSERT_TRUE(channel.ok());
  auto audit = v1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  v1::GetRecordRequest request;
  request.set_log_index(response.log_index());
  v1::GetRecordResponse record;
  ASSERT_TRUE(audit->GetRecord(&context, request, &record).ok());
  EXPECT_EQ(record.record().refusal().reason(), v1::PERSPECTIVE_TIMEOUT);
}

TEST_F(FailureTest, CoordinatorKilledUnderLoadRestartsWithEveryReturnedVdRecorded) {
  // More callers than the signer has indices to refuse before an earlier fix gave up: each may
  // hold an index the signer gave away when the coordinator dies.
  const std::vector<v1::VouchingData> returned = VouchUnderLoadUntil(
      20, [&] { ASSERT_TRUE(cluster_->Kill("coordinator", SIGKILL).ok()); }, absl::ZeroDuration());
  ASSERT_GE(returned.size(), 20u);
  absl::Status restarted = cluster_->RestartCoordinator();
  ASSERT_TRUE(restarted.ok()) << restarted;

  // The log verifies against a fresh signed checkpoint, with no gap, and every VD that left the
  // coordinator has its record, holding exactly that VD.
  EXPECT_GE(ExpectTheLogVerifies(), returned.size());
  ExpectEachVdInItsRecord(returned);

  // And the restarted coordinator vouches again; the signer then covers the whole log.
  v1::VouchResponse response;
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  ExpectTheLogVerifies();
}

// The signer killed with SIGKILL under load: every VD that reached a client has its record, and
// once the signer is back a checkpoint covers the whole log, so every VD the signer released is in
// it; a VD whose answer the kill cut off is recorded then (docs/SECURITY.md T7).
TEST_F(FailureTest, SignerKilledUnderLoadRestartsAndEveryVdItReleasedIsLogged) {
  const std::vector<v1::VouchingData> returned = VouchUnderLoadUntil(
      20, [&] { ASSERT_TRUE(cluster_->Kill("signer", SIGKILL).ok()); },
      absl::Milliseconds(500));  // Calls in flight meet the dead signer.
  ASSERT_GE(returned.size(), 20u);
  absl::Status restarted = cluster_->RestartSigner();
  ASSERT_TRUE(restarted.ok()) << restarted;

  // The coordinator waits for the restarted signer rather than failing the next VR.
  v1::VouchResponse response;
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  ExpectTheLogVerifies();
  ExpectEachVdInItsRecord(returned);
}

// A coordinator's store restored from a copy older than the last checkpoint the signer signed
// (docs/OPERATIONS.md "Restoring a coordinator's store"): the coordinator starts, but decides no
// VR and serves no record of the rolled-back log; `mecai store check` reads the copy without
// writing it; the store that holds the published log serves again.
TEST_F(FailureTest, AStoreRestoredFromBeforeThePublishedCheckpointIsNeverServed) {
  v1::VouchResponse response;
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  const uint64_t old_size = ExpectTheLogVerifies();  // A checkpoint of old_size is signed.
  const std::string store = cluster_->Path("store/coordinator");
  const std::string old_copy = cluster_->Path("backup-old");
  const std::string current = cluster_->Path("store-current");
  ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
  ASSERT_EQ(system(absl::StrCat("cp -a ", store, " ", old_copy).c_str()), 0);
  ASSERT_OK(cluster_->RestartCoordinator());
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  const uint64_t published_size = ExpectTheLogVerifies();
  ASSERT_GT(published_size, old_size);

  // The operator restores the old copy.
  ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
  ASSERT_EQ(
      system(absl::StrCat("mv ", store, " ", current, " && cp -a ", old_copy, " ", store).c_str()),
      0);
  ASSERT_OK(cluster_->RestartCoordinator());
  auto channel = MakeChannel(cluster_->CoordinatorPeer());
  ASSERT_TRUE(channel.ok());
  {
    auto vouching = v1::VouchingService::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::VouchRequest request;
    request.set_vouching_request(MakeRequest());
    const grpc::Status refused = vouching->Vouch(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(refused.error_message(), HasSubstr("rolls back or forks what its signer signed"));
  }
  {
    auto audit = v1::AuditService::NewStub(*channel);
    grpc::ClientContext context;
    v1::GetRecordRequest request;
    request.set_log_index(0);
    v1::GetRecordResponse record;
    EXPECT_EQ(audit->GetRecord(&context, request, &record).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }

  // `mecai store check` verifies the copy and says what it holds; the copy is left as it was.
  const std::string listing_before = RunCommand(absl::StrCat("ls -lR ", old_copy));
  const std::string checked =
      RunCommand(absl::StrCat(Runfile("cli/mecai"), " store check --store ", old_copy, " --shard ",
                              LocalCluster::kShardId, " 2>&1; echo exit=$?"));
  EXPECT_THAT(checked, HasSubstr(absl::StrCat("tree size:  ", old_size)));
  EXPECT_THAT(checked, HasSubstr("exit=0"));
  EXPECT_EQ(RunCommand(absl::StrCat("ls -lR ", old_copy)), listing_before);
  EXPECT_THAT(RunCommand(absl::StrCat(Runfile("cli/mecai"), " store check --store ", old_copy,
                                      " --shard another-shard 2>&1; echo exit=$?")),
              AllOf(HasSubstr("not \"another-shard\""), HasSubstr("exit=1")));

  // The store that holds the published log serves again.
  ASSERT_OK(cluster_->Kill("coordinator", SIGTERM));
  ASSERT_EQ(system(absl::StrCat("rm -rf ", store, " && mv ", current, " ", store).c_str()), 0);
  ASSERT_OK(cluster_->RestartCoordinator());
  ASSERT_TRUE(Vouch(MakeRequest(), &response));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  EXPECT_GT(ExpectTheLogVerifies(), published_size);
}

}  // namespace
}  // namespace mecai
