// Many VRs in flight at once (ARCHITECTURE.md §13): a whole cluster (coordinator, signer, three
// probe agents) against a TLS target that holds every connection 1 s before its handshake, each VR
// for a hostname of its own that the agents resolve through the cluster's resolver. No thread waits
// on a probe round, so every VR is issued; a VR beyond max_vouch_in_flight is refused at once with
// the reason; a VR whose deadline passes ends, counted, freeing its place.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

constexpr int kVrs = 1000;
constexpr char kWildcard[] = "*.mecai.test";

std::string HostnameOf(int i) { return absl::StrCat("vr-", i, ".mecai.test"); }

// GET /metrics from 127.0.0.1:`port` (plain HTTP, the Prometheus text format).
std::string FetchMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string text;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t got;
      while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0) text.append(buffer, got);
    }
  }
  close(fd);
  return text;
}

// The value of the sample `series` (a metric name with its labels, as exposed), or -1.
constexpr char kSigningsInFlight[] = "mecai_coordinator_signings{state=\"in_flight\"}";

double Sample(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return -1;
}

// VRs sent at once on the callback API; each answer is kept.
class VouchBurst {
 public:
  VouchBurst(v1::VouchingService::Stub& stub, const std::vector<std::string>& requests,
             absl::Duration deadline)
      : calls_(requests.size()) {
    for (size_t i = 0; i < requests.size(); ++i) {
      Call& call = calls_[i];
      call.request.set_vouching_request(requests[i]);
      call.context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      stub.async()->Vouch(&call.context, &call.request, &call.response,
                          [this, &call](grpc::Status status) {
                            absl::MutexLock lock(&mutex_);
                            call.status = std::move(status);
                            ++answered_;
                          });
    }
  }

  // Waits (at most `timeout`) for every answer; false when some are missing.
  bool Await(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto all = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return answered_ == calls_.size(); };
    return mutex_.AwaitWithTimeout(absl::Condition(&all), timeout);
  }

  size_t Answered() {
    absl::MutexLock lock(&mutex_);
    return answered_;
  }

  // After Await: how many were issued, and the first failure seen.
  int Issued(std::string* first_failure) {
    absl::MutexLock lock(&mutex_);
    int issued = 0;
    for (const Call& call : calls_) {
      if (call.status.ok() && call.response.has_vouching_data()) {
        ++issued;
      } else if (first_failure->empty()) {
        *first_failure = call.status.ok() ? "refused: " + call.response.refusal().explanation()
                                          : absl::StrCat("status ", call.status.error_code(), ": ",
                                                         call.status.error_message());
        for (const v1::PerspectiveResult& result : call.response.perspectives()) {
          absl::StrAppend(first_failure, "; ", result.perspective().id(), ": ", result.detail(),
                          " after ", result.round_trip_milliseconds(), " ms");
        }
      }
    }
    return issued;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::VouchRequest request;
    v1::VouchResponse response;
    grpc::Status status;
  };
  std::vector<Call> calls_;
  absl::Mutex mutex_;
  size_t answered_ ABSL_GUARDED_BY(mutex_) = 0;
};

class VouchConcurrencyTest : public ::testing::Test {
 protected:
  // A cluster whose coordinator admits `max_in_flight` VRs at once, whose agents take every probe
  // of the burst at once, and the delayed target serving a certificate for *.mecai.test.
  void StartCluster(const std::string& name, uint32_t max_in_flight) {
    LocalClusterOptions options;
    options.perspectives = 3;
    for (int i = 0; i < kVrs; ++i) options.extra_hosts[HostnameOf(i)] = {"127.0.0.1"};
    options.coordinator_overrides.set_max_vouch_in_flight(max_in_flight);
    // Two cores shared with everything else, sanitizers included: the burst is judged on whether
    // every VR is issued, not on how fast, so no timeout of the round cuts it short.
    options.coordinator_overrides.set_probe_timeout_milliseconds(120000);
    options.coordinator_overrides.set_signer_timeout_milliseconds(60000);
    options.coordinator_overrides.set_max_vouch_deadline_milliseconds(600000);
    options.agent_overrides.set_connect_timeout_milliseconds(60000);
    options.agent_overrides.set_handshake_timeout_milliseconds(60000);
    options.agent_overrides.set_max_in_flight_probes(2 * kVrs);
    options.agent_overrides.set_max_in_flight_per_target_address(2 * kVrs);
    options.agent_overrides.set_max_queued_per_target_address(2 * kVrs);
    auto cluster = StartTestCluster(name, options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_OK(cluster_->IssueServerCertificate(kWildcard, "wildcard"));
    const char* runfiles = getenv("TEST_SRCDIR");
    ASSERT_NE(runfiles, nullptr);
    const std::string port_file = cluster_->Path("run/delayed-target.port");
    auto target = ChildProcess::Start(
        {absl::StrCat(runfiles, "/mecai/bench/delayed_tls_target_server"), "--certificate_chain",
         cluster_->Path("pki/wildcard.pem"), "--key", cluster_->Path("pki/wildcard.key"),
         "--delay_milliseconds", "1000", "--port_file", port_file},
        cluster_->Path("logs/delayed-target.log"));
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = *std::move(target);
    for (int i = 0; i < 200 && !ReadFile(port_file).ok(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_OK_AND_ASSIGN(const std::string port, ReadFile(port_file));
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(port), &target_port_));
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel,
                         MakeChannel(cluster_->CoordinatorPeer()));
    stub_ = v1::VouchingService::NewStub(channel);
  }

  // A fresh VR for HostnameOf(i) on the delayed target.
  std::string Request(int i) {
    absl::StatusOr<std::string> request = SignedRequestFromFiles(
        cluster_->Path("pki/wildcard.pem"), cluster_->Path("pki/wildcard.key"), HostnameOf(i),
        static_cast<uint32_t>(target_port_), LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  std::string CoordinatorMetrics() {
    auto port = cluster_->MetricsPort("coordinator");
    EXPECT_TRUE(port.ok()) << port.status();
    return FetchMetrics(port.value_or(0));
  }

  // Polls (bounded) until the sample `series` is `value`.
  bool AwaitSample(const std::string& series, double value) {
    for (int i = 0; i < 300; ++i) {
      if (Sample(CoordinatorMetrics(), series) == value) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  void TearDown() override {
    stub_.reset();
    target_.reset();
    cluster_.reset();
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<ChildProcess> target_;
  int target_port_ = 0;
  std::unique_ptr<v1::VouchingService::Stub> stub_;
};

TEST_F(VouchConcurrencyTest, AThousandVrsInFlightAgainstASlowTargetAreAllIssued) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("thousand", 2000));
  std::vector<std::string> requests;
  for (int i = 0; i < kVrs; ++i) requests.push_back(Request(i));
  const absl::Time start = absl::Now();
  VouchBurst burst(*stub_, requests, absl::Seconds(500));
  ASSERT_TRUE(burst.Await(absl::Seconds(600))) << burst.Answered() << " answered";
  std::string first_failure;
  EXPECT_EQ(burst.Issued(&first_failure), kVrs) << first_failure;
  std::printf("%d VRs issued in %.2f s\n", kVrs, absl::ToDoubleSeconds(absl::Now() - start));
  EXPECT_TRUE(AwaitSample("mecai_coordinator_vouch_in_flight", 0));
  EXPECT_EQ(Sample(CoordinatorMetrics(),
                   "mecai_coordinator_decisions_total{decision=\"issued\",reason=\"\"}"),
            kVrs);
}

TEST_F(VouchConcurrencyTest, AVrBeyondTheLimitIsRefusedAtOnceAndALateOneEnds) {
  constexpr int kLimit = 8;
  ASSERT_NO_FATAL_FAILURE(StartCluster("limit", kLimit));
  std::vector<std::string> held;
  for (int i = 0; i < kLimit; ++i) held.push_back(Request(i));
  VouchBurst burst(*stub_, held, absl::Seconds(120));
  // The target holds each of them for a second: all are in flight.
  ASSERT_TRUE(AwaitSample("mecai_coordinator_vouch_in_flight", kLimit));
  const absl::Time sent = absl::Now();
  absl::StatusOr<v1::VouchResponse> refused =
      CallVouch(*MakeChannel(cluster_->CoordinatorPeer()).value(), Request(kLimit));
  const absl::Duration took = absl::Now() - sent;
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("has ", kLimit, " VRs in flight, the limit is ", kLimit)));
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_EQ(burst.Answered(), 0u);
  EXPECT_EQ(Sample(CoordinatorMetrics(),
                   "mecai_coordinator_vouch_refused_total{reason=\"in_flight_limit\"}"),
            1);
  ASSERT_TRUE(burst.Await(absl::Seconds(120)));
  std::string first_failure;
  EXPECT_EQ(burst.Issued(&first_failure), kLimit) << first_failure;

  // A VR whose caller gives it 400 ms, against a target that takes a second: the caller sees
  // DEADLINE_EXCEEDED, and the coordinator ends the VR too at that deadline, its probe round
  // cancelled, nothing recorded, its place free.
  v1::VouchRequest late;
  late.set_vouching_request(Request(kLimit + 1));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(400));
  v1::VouchResponse response;
  EXPECT_EQ(stub_->Vouch(&context, late, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(
      AwaitSample("mecai_coordinator_vouch_refused_total{reason=\"deadline_exceeded\"}", 1));
  EXPECT_TRUE(AwaitSample("mecai_coordinator_vouch_in_flight", 0));
  const std::string metrics = CoordinatorMetrics();
  EXPECT_EQ(Sample(metrics, "mecai_coordinator_decisions_total{decision=\"issued\",reason=\"\"}"),
            kLimit);
  EXPECT_EQ(Sample(metrics, "mecai_coordinator_log_leaves"), kLimit);
}

// Polls (bounded) the coordinator's metrics until `series` is `value`.
bool AwaitCoordinatorSample(LocalCluster& cluster, const std::string& series, double value) {
  absl::StatusOr<int> port = cluster.MetricsPort("coordinator");
  if (!port.ok()) return false;
  for (int i = 0; i < 300; ++i) {
    if (Sample(FetchMetrics(*port), series) == value) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

// A cluster whose coordinator has one worker thread, and a channel to it.
struct OneWorkerCluster {
  std::unique_ptr<LocalCluster> cluster;
  std::shared_ptr<grpc::Channel> channel;
};

absl::StatusOr<OneWorkerCluster> StartOneWorkerCluster(const std::string& name,
                                                       LocalClusterOptions options) {
  options.coordinator_overrides.set_vouch_worker_threads(1);
  OneWorkerCluster started;
  ASSIGN_OR_RETURN(started.cluster, StartTestCluster(name, options));
  ASSIGN_OR_RETURN(started.channel, MakeChannel(started.cluster->CoordinatorPeer()));
  return started;
}

// A VR for the cluster's target, signed by its server's key, timestamped `timestamp`.
absl::StatusOr<std::string> TargetRequest(LocalCluster& cluster, absl::Time timestamp) {
  return SignedRequestFromFiles(cluster.ServerChainFile(), cluster.ServerKeyFile(),
                                LocalCluster::kTargetHost, cluster.target_port(),
                                LocalCluster::kTrustList, timestamp);
}

// With `process` stopped (SIGSTOP), the VR `valid` is sent and, once `stuck` says it waits for
// that process, a malformed VR is sent: it must be answered within 3 s, the one worker being free.
// `process` runs again (SIGCONT) before anything is checked. Returns the answer to `valid`.
absl::StatusOr<v1::VouchResponse> ExpectTheWorkerFreeWhileAVrWaits(
    OneWorkerCluster& one, const std::string& process, const std::string& valid,
    const std::function<void()>& stuck) {
  EXPECT_OK(one.cluster->Signal(process, SIGSTOP));
  absl::StatusOr<v1::VouchResponse> waiting = absl::UnknownError("not answered");
  std::thread first([&] { waiting = CallVouch(*one.channel, valid); });
  stuck();
  const absl::Time start = absl::Now();
  const absl::StatusOr<v1::VouchResponse> refused =
      CallVouch(*one.channel, "not a vouching request");
  const absl::Duration answered_in = absl::Now() - start;
  EXPECT_OK(one.cluster->Signal(process, SIGCONT));
  first.join();
  EXPECT_OK(refused.status());
  if (refused.ok()) {
    EXPECT_EQ(refused->refusal().reason(), v1::MALFORMED_REQUEST) << refused->DebugString();
  }
  EXPECT_LT(answered_in, absl::Seconds(3)) << "the worker waited for the " << process;
  return waiting;
}

// A revocation fetch holds no worker thread: with one worker, while a VR waits for the CA's CRL
// server (the cluster's nginx, stopped with SIGSTOP: connections accepted, nothing answered), the
// worker still answers another VR (one refused at once, which fetches nothing). Once the server
// runs again, the waiting VR is issued. With the fetch on the worker, the second VR waited behind
// the first until the fetch timed out.
TEST(RevocationFetchThreadsTest, AVrWaitingForItsCrlHoldsNoWorker) {
  ASSERT_OK_AND_ASSIGN(OneWorkerCluster one,
                       StartOneWorkerCluster("crl-wait", LocalClusterOptions()));
  ASSERT_OK_AND_ASSIGN(const std::string valid, TargetRequest(*one.cluster, absl::Now()));
  // No VR has run: the CRL is not cached, and the first VR fetches it.
  const absl::StatusOr<v1::VouchResponse> waiting = ExpectTheWorkerFreeWhileAVrWaits(
      one, "nginx", valid, [] { absl::SleepFor(absl::Milliseconds(500)); });
  ASSERT_OK(waiting.status());
  EXPECT_TRUE(waiting->has_vouching_data()) << waiting->DebugString();
  EXPECT_EQ(waiting->refusal().reason(), v1::REFUSAL_REASON_UNSPECIFIED);
}

// The signer call and the record's commit hold no worker thread: with one worker, while a VR's VD
// waits for the signer (stopped with SIGSTOP after the cluster started), the worker still answers
// another VR (one refused at once, which records nothing). Once the signer runs again, the waiting
// VR is issued and its VD is in its record. With the signing on the worker, the second VR waited
// behind the first until the signer answered.
TEST(SignerCallThreadsTest, AVrWaitingForTheSignerHoldsNoWorker) {
  LocalClusterOptions options;
  options.coordinator_overrides.set_signer_timeout_milliseconds(30000);
  ASSERT_OK_AND_ASSIGN(OneWorkerCluster one, StartOneWorkerCluster("signer-wait", options));
  ASSERT_OK_AND_ASSIGN(const std::string valid, TargetRequest(*one.cluster, absl::Now()));
  const absl::StatusOr<v1::VouchResponse> waiting =
      ExpectTheWorkerFreeWhileAVrWaits(one, "signer", valid, [&] {
        // After its checks, CRL fetch and probe round, the VR waits for its signature.
        EXPECT_TRUE(AwaitCoordinatorSample(*one.cluster, kSigningsInFlight, 1));
      });
  ASSERT_OK(waiting.status());
  ASSERT_TRUE(waiting->has_vouching_data()) << waiting->DebugString();
  EXPECT_EQ(waiting->refusal().reason(), v1::REFUSAL_REASON_UNSPECIFIED);
  // The same VR again is answered from its record, with the same VD.
  const absl::StatusOr<v1::VouchResponse> again = CallVouch(*one.channel, valid);
  ASSERT_OK(again.status());
  EXPECT_TRUE(again->served_from_record()) << again->DebugString();
  EXPECT_EQ(again->vouching_data().SerializeAsString(),
            waiting->vouching_data().SerializeAsString());
}

// A VR whose deadline passes while it waits for its turn to be signed is neither signed nor
// recorded: with one signing at a time and the signer stopped, a second VR given 3 s waits behind
// the first; once the signer runs again the first is issued, the second is dropped at its turn
// (counted as deadline_exceeded), and sent again it is not answered from a record.
TEST(SignerCallThreadsTest, AVrWhoseDeadlinePassesBeforeItsTurnToBeSignedIsNotRecorded) {
  LocalClusterOptions options;
  options.coordinator_overrides.set_signer_timeout_milliseconds(30000);
  // The second VR is decided on its own, not by reusing the first's decision.
  options.decision_reuse = false;
  ASSERT_OK_AND_ASSIGN(OneWorkerCluster one, StartOneWorkerCluster("signer-turn", options));
  LocalCluster* cluster = one.cluster.get();
  const std::shared_ptr<grpc::Channel>& channel = one.channel;
  ASSERT_OK_AND_ASSIGN(const std::string first_request, TargetRequest(*cluster, absl::Now()));
  ASSERT_OK_AND_ASSIGN(const std::string second_request,
                       TargetRequest(*cluster, absl::Now() - absl::Seconds(1)));
  ASSERT_OK(cluster->Signal("signer", SIGSTOP));
  absl::StatusOr<v1::VouchResponse> first = absl::UnknownError("not answered");
  std::thread first_caller([&] { first = CallVouch(*channel, first_request); });
  EXPECT_TRUE(AwaitCoordinatorSample(*cluster, kSigningsInFlight, 1));
  std::unique_ptr<v1::VouchingService::Stub> stub = v1::VouchingService::NewStub(channel);
  v1::VouchRequest second;
  second.set_vouching_request(second_request);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  v1::VouchResponse second_response;
  const grpc::Status second_status = stub->Vouch(&context, second, &second_response);
  // The second waited for its turn (its probe round done), not in an earlier step.
  EXPECT_EQ(Sample(FetchMetrics(*cluster->MetricsPort("coordinator")),
                   "mecai_coordinator_signings{state=\"waiting\"}"),
            1);
  ASSERT_OK(cluster->Signal("signer", SIGCONT));
  first_caller.join();
  EXPECT_EQ(second_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << second_status.error_message();
  ASSERT_OK(first.status());
  ASSERT_TRUE(first->has_vouching_data()) << first->DebugString();

  EXPECT_TRUE(AwaitCoordinatorSample(
      *cluster, "mecai_coordinator_vouch_refused_total{reason=\"deadline_exceeded\"}", 1));
  ASSERT_OK_AND_ASSIGN(int metrics_port, cluster->MetricsPort("coordinator"));
  EXPECT_EQ(Sample(FetchMetrics(metrics_port), "mecai_coordinator_log_leaves"), 1);
  // Sent again, it is decided anew, not answered from a record (the agents, which sign one
  // Observation per VR, refuse to probe it twice: docs/SECURITY.md T7).
  const absl::StatusOr<v1::VouchResponse> again = CallVouch(*channel, second_request);
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->served_from_record()) << again->DebugString();
  EXPECT_FALSE(again->has_vouching_data()) << again->DebugString();
}

}  // namespace
}  // namespace mecai
