#include "probe_agent/probe_service.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/rpc/grpc_server.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/table_resolver.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TableResolver;
using ::mecai::test_support::TestCertificate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A task for the VR named `vr` (its SHA-256 is the task's VR digest) with `nonce`.
v1::ProbeRequest RequestFor(const std::string& vr, const std::string& hostname, int port,
                            const std::string& nonce = std::string(16, '\x01')) {
  v1::ProbeRequest request;
  request.mutable_task()->set_hostname(hostname);
  request.mutable_task()->set_port(static_cast<uint32_t>(port));
  request.mutable_task()->set_vouching_request_sha256(Sha256(vr));
  request.mutable_task()->set_nonce(nonce);
  return request;
}

// A task for a VR no other call of this process used: an agent probes each VR once.
v1::ProbeRequest Request(const std::string& hostname, int port) {
  static std::atomic<int> next{0};
  return RequestFor(absl::StrCat("vr ", next.fetch_add(1)), hostname, port);
}

// The service on 127.0.0.1:0 in this process, without TLS, called through a real gRPC client.
class ProbeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCertificate> certificate = test_support::WriteSelfSignedCertificate(
        test_support::TestTemporaryDirectory(), "service", "service.example.test");
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    certificate_ = *certificate;
    OpenSslTestServer::Options options;
    options.certificate = certificate_;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> target = OpenSslTestServer::Start(options);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::move(*target);

    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    ASSERT_NE(key, nullptr);
    absl::StatusOr<EvpPkeyPtr> public_key = ParsePemPublicKey(PublicKeyToPem(key.get()));
    ASSERT_TRUE(public_key.ok());
    public_key_ = std::move(*public_key);
    absl::StatusOr<std::unique_ptr<InMemorySigningKey>> signing_key =
        InMemorySigningKey::Create(std::move(key));
    ASSERT_TRUE(signing_key.ok());
    signing_key_ = std::move(*signing_key);
    resolver_.Set("service.example.test", std::vector<std::string>{"127.0.0.1"});
  }

  // `max_threads`: listen.max_threads, the gRPC server's thread limit (0: StartServer's default).
  // `remembered_vrs`: the capacity of the memory of probed VRs (window kProbedVrMemory).
  void StartService(uint32_t max_in_flight, ProberLimits limits = ProberLimits(),
                    uint32_t max_threads = 0, size_t remembered_vrs = 1000) {
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok());
    v1::Perspective perspective;
    perspective.set_id("svc-1a");
    perspective.set_region("svc-1");
    prober_ = std::make_unique<Prober>(perspective, resolver_, *fetcher_, std::move(*policy),
                                       *signing_key_, SystemClock::Get(), limits);
    probed_ = std::make_unique<ProbedRequests>(memory_clock_, kProbedVrMemory, remembered_vrs);
    service_ =
        std::make_unique<ProbeServiceImpl>(*prober_, *probed_, max_in_flight, metrics_.get());
    v1::ListenConfig listen;
    listen.set_address("127.0.0.1:0");
    listen.set_insecure_plaintext_for_local_development(true);
    listen.set_max_threads(max_threads);
    absl::StatusOr<std::unique_ptr<RunningServer>> server = StartServer(listen, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = v1::ProbeService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A listener that accepts and never answers, which silent.example.test resolves to.
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> StartSilentTarget() {
    resolver_.Set("silent.example.test", std::vector<std::string>{"127.0.0.1"});
    return PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
  }

  // The service with `max_in_flight` and a 50 s handshake timeout, so that a probe of the silent
  // target runs until it is cancelled; returns that target.
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> StartServiceWithSilentTarget(
      uint32_t max_in_flight) {
    ProberLimits limits;
    limits.handshake_timeout = absl::Seconds(50);
    StartService(max_in_flight, limits);
    return StartSilentTarget();
  }

  // True once `condition` holds, polled for at most 20 s.
  static bool Eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 2000; ++i) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return condition();
  }

  grpc::Status Call(const v1::ProbeRequest& request, v1::ProbeResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return client_->Probe(&context, request, response);
  }

  TestCertificate certificate_;
  std::unique_ptr<OpenSslTestServer> target_;
  TableResolver resolver_;
  std::unique_ptr<EngineTlsFetcher> fetcher_;
  EvpPkeyPtr public_key_;
  std::unique_ptr<InMemorySigningKey> signing_key_;
  static constexpr absl::Duration kProbedVrMemory = absl::Seconds(600);

  std::unique_ptr<Prober> prober_;
  // The clock of the memory of probed VRs only; probes themselves run on the system clock.
  FakeClock memory_clock_{absl::FromUnixSeconds(1800000000)};
  prometheus::Registry registry_;
  std::unique_ptr<AgentMetrics> metrics_ = std::make_unique<AgentMetrics>(registry_);
  std::unique_ptr<ProbedRequests> probed_;
  std::unique_ptr<ProbeServiceImpl> service_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<v1::ProbeService::Stub> client_;
};

TEST_F(ProbeServiceTest, ProbeThroughGrpc) {
  StartService(/*max_in_flight=*/64);
  v1::ProbeResponse response;
  grpc::Status status = Call(Request("service.example.test", target_->port()), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::SignedObservation& observation = response.observation();
  ASSERT_TRUE(VerifyObject(public_key_.get(), SignedObject::kObservation, observation.signature(),
                           observation.tbs())
                  .ok());
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(observation.tbs()));
  EXPECT_EQ(body.perspective().id(), "svc-1a");
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(certificate_.der));
  EXPECT_EQ(service_->in_flight_probes(), 0u);
}

TEST_F(ProbeServiceTest, FailureAtTheTargetIsAnObservationNotAnError) {
  StartService(64);
  resolver_.Set("gone.example.test", absl::NotFoundError("hostname gone.example.test has no A"));
  v1::ProbeResponse response;
  grpc::Status status = Call(Request("gone.example.test", 443), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(response.observation().tbs()));
  EXPECT_EQ(body.outcome(), v1::PROBE_RESOLUTION_FAILED);
}

TEST_F(ProbeServiceTest, InvalidTaskIsInvalidArgument) {
  StartService(64);
  v1::ProbeResponse response;
  grpc::Status status = Call(Request("bad_name.example.test", 443), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("ProbeTask.hostname \"bad_name.example.test\": label \"bad_name\""));

  status = Call(v1::ProbeRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "ProbeRequest.task is missing");

  v1::ProbeRequest short_nonce = Request("service.example.test", 443);
  short_nonce.mutable_task()->set_nonce("short");
  status = Call(short_nonce, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "ProbeTask.nonce must be 16..64 bytes, not 5");

  // docs/PROTOCOL.md "Key-typed handshakes": a key type the agent cannot ask a server for.
  v1::ProbeRequest unknown_key_type = Request("service.example.test", 443);
  unknown_key_type.mutable_task()->add_certificate_key_types(v1::KEY_TYPE_RSA);
  unknown_key_type.mutable_task()->add_certificate_key_types(
      static_cast<v1::CertificateKeyType>(42));
  status = Call(unknown_key_type, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "ProbeTask.certificate_key_types[1]: certificate key type 42 is not one a probe agent "
            "can ask a server for (EC P-256, EC P-384, RSA, Ed25519)");
}

// Bytes no coordinator writes: the task's hostname (field 1, length-delimited) also sent as a
// varint, which protobuf's parser keeps aside as an unknown field; nothing is probed.
TEST_F(ProbeServiceTest, AKnownFieldOfAnotherWireTypeIsInvalidArgument) {
  StartService(64);
  v1::ProbeRequest request = Request("service.example.test", 443);
  request.mutable_task()
      ->GetReflection()
      ->MutableUnknownFields(request.mutable_task())
      ->AddVarint(1, 7);
  v1::ProbeResponse response;
  const grpc::Status status = Call(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "a ProbeRequest carries ProbeTask.hostname (field number 1) with another wire type "
            "than its own");
  EXPECT_FALSE(response.has_observation());
}

TEST_F(ProbeServiceTest, ResolverFaultIsInternal) {
  StartService(64);
  resolver_.Set("service.example.test", absl::InternalError("cannot create a DNS channel"));
  v1::ProbeResponse response;
  grpc::Status status = Call(Request("service.example.test", 443), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "resolving service.example.test: cannot create a DNS channel");
}

TEST_F(ProbeServiceTest, InFlightLimitRefusesTheProbeBeyondIt) {
  // One probe may run. The first hangs in a handshake with a silent listener for 2 s.
  ProberLimits limits;
  limits.handshake_timeout = absl::Seconds(2);
  StartService(/*max_in_flight=*/1, limits);
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent = StartSilentTarget();
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::Status first_status;
  v1::ProbeResponse first_response;
  std::thread first([&] {
    first_status = Call(Request("silent.example.test", (*silent)->port()), &first_response);
  });
  ASSERT_TRUE((*silent)->WaitForConnections(1, absl::Seconds(10)));
  EXPECT_EQ(service_->in_flight_probes(), 1u);

  v1::ProbeResponse second_response;
  grpc::Status second = Call(Request("service.example.test", target_->port()), &second_response);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.error_message(),
            "the probe agent is at its limit of 1 probes in flight; retry later");

  first.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  v1::ObservationBody first_body;
  ASSERT_TRUE(first_body.ParseFromString(first_response.observation().tbs()));
  EXPECT_EQ(first_body.outcome(), v1::PROBE_HANDSHAKE_FAILED);

  // The slot is free again.
  EXPECT_EQ(service_->in_flight_probes(), 0u);
  v1::ProbeResponse third_response;
  grpc::Status third = Call(Request("service.example.test", target_->port()), &third_response);
  EXPECT_TRUE(third.ok()) << third.error_message();
}

TEST_F(ProbeServiceTest, ManyMoreProbesInFlightThanServerThreads) {
  // A gRPC server limited to 4 threads: a synchronous handler would hold one per probe, so at most
  // 4 probes could wait on the silent target at once (8 times fewer). The callback handler holds
  // none.
  constexpr int kProbes = 32;  // The engine's default limit per target address.

  ProberLimits limits;
  limits.handshake_timeout = absl::Seconds(3);
  StartService(/*max_in_flight=*/kProbes, limits, /*max_threads=*/4);
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent = StartSilentTarget();
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::ProbeResponse> responses(kProbes);
  std::vector<grpc::Status> statuses(kProbes);
  for (int i = 0; i < kProbes; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto call = client_->AsyncProbe(contexts.back().get(),
                                    Request("silent.example.test", (*silent)->port()), &queue);
    call->Finish(&responses[i], &statuses[i], reinterpret_cast<void*>(static_cast<intptr_t>(i)));
  }
  // Every probe reached the target and is running at the same time.
  EXPECT_TRUE((*silent)->WaitForConnections(kProbes, absl::Seconds(20)))
      << (*silent)->accepted_connections() << " of " << kProbes << " connections";
  EXPECT_TRUE(Eventually([&] { return service_->in_flight_probes() == kProbes; }))
      << service_->in_flight_probes() << " in flight";

  for (int i = 0; i < kProbes; ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(queue.Next(&tag, &ok));
    ASSERT_TRUE(ok);
  }
  for (int i = 0; i < kProbes; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    v1::ObservationBody body;
    ASSERT_TRUE(body.ParseFromString(responses[i].observation().tbs()));
    ASSERT_EQ(body.addresses_size(), 1);
    EXPECT_EQ(body.addresses(0).error_class(), v1::HANDSHAKE_TIMEOUT);
  }
  EXPECT_EQ(service_->in_flight_probes(), 0u);
  queue.Shutdown();
}

// The value of `name`{reason="..."} (a counter) or `name` (a gauge) in the agent's metrics; 0
// when absent.
double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::string& reason = "") {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      const bool matches = reason.empty()
                               ? metric.label.empty()
                               : (metric.label.size() == 1 && metric.label[0].value == reason);
      if (!matches) continue;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return 0;
}

// An agent signs at most one Observation per VR: a coordinator cannot send the same VR again and
// keep the run it likes, neither with the same nor with a new nonce.
TEST_F(ProbeServiceTest, ASecondTaskForTheSameVrIsRefusedWhateverItsNonce) {
  StartService(64);
  v1::ProbeResponse first;
  grpc::Status status = Call(RequestFor("the VR", "service.example.test", target_->port()), &first);
  ASSERT_TRUE(status.ok()) << status.error_message();

  for (const std::string& nonce : {std::string(16, '\x01'), std::string(32, '\x02')}) {
    v1::ProbeResponse again;
    status = Call(RequestFor("the VR", "service.example.test", target_->port(), nonce), &again);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(status.error_message(),
              absl::StrCat("already probed VR ", HexEncode(Sha256("the VR")),
                           " 0 s ago; an agent probes a VR once (send a new VR)"));
    EXPECT_FALSE(again.has_observation());
  }
  EXPECT_EQ(
      MetricValue(registry_, "mecai_probe_agent_repeated_vr_refusals_total", "already_probed"), 2);
  EXPECT_EQ(MetricValue(registry_, "mecai_probe_agent_remembered_vrs"), 1);
  EXPECT_EQ(service_->in_flight_probes(), 0u);

  // Another VR is probed as usual.
  v1::ProbeResponse other;
  status = Call(RequestFor("another VR", "service.example.test", target_->port()), &other);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ProbeServiceTest, TheSameVrIsProbedAgainOnlyAfterTheWindow) {
  StartService(64);
  v1::ProbeResponse response;
  ASSERT_TRUE(Call(RequestFor("the VR", "service.example.test", target_->port()), &response).ok());
  memory_clock_.Advance(kProbedVrMemory - absl::Seconds(1));
  EXPECT_EQ(
      Call(RequestFor("the VR", "service.example.test", target_->port()), &response).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  memory_clock_.Advance(absl::Seconds(1));
  grpc::Status status =
      Call(RequestFor("the VR", "service.example.test", target_->port()), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// While the first probe of a VR still runs, a second task for it is refused at once.
TEST_F(ProbeServiceTest, ATaskForAVrBeingProbedIsRefused) {
  ProberLimits limits;
  limits.handshake_timeout = absl::Seconds(2);
  StartService(/*max_in_flight=*/4, limits);
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent = StartSilentTarget();
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::Status first_status;
  v1::ProbeResponse first_response;
  std::thread first([&] {
    first_status =
        Call(RequestFor("slow VR", "silent.example.test", (*silent)->port()), &first_response);
  });
  const bool connected = (*silent)->WaitForConnections(1, absl::Seconds(10));
  v1::ProbeResponse second_response;
  grpc::Status second =
      Call(RequestFor("slow VR", "silent.example.test", (*silent)->port(), std::string(16, '\x09')),
           &second_response);
  first.join();
  ASSERT_TRUE(connected);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::ALREADY_EXISTS) << second.error_message();
  EXPECT_EQ((*silent)->accepted_connections(), 1);
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
}

// A probe that ends without an Observation signed nothing: the VR may be probed again.
TEST_F(ProbeServiceTest, AProbeThatSignedNothingLeavesItsVrFree) {
  StartService(64);
  resolver_.Set("service.example.test", absl::InternalError("cannot create a DNS channel"));
  v1::ProbeResponse response;
  EXPECT_EQ(
      Call(RequestFor("the VR", "service.example.test", target_->port()), &response).error_code(),
      grpc::StatusCode::INTERNAL);
  EXPECT_EQ(MetricValue(registry_, "mecai_probe_agent_remembered_vrs"), 0);
  resolver_.Set("service.example.test", std::vector<std::string>{"127.0.0.1"});
  grpc::Status status =
      Call(RequestFor("the VR", "service.example.test", target_->port()), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.has_observation());
}

// Bounded memory: when full, a new VR is refused rather than an old one forgotten.
TEST_F(ProbeServiceTest, WhenTheMemoryOfProbedVrsIsFullNewVrsAreRefused) {
  StartService(/*max_in_flight=*/2, ProberLimits(), /*max_threads=*/0, /*remembered_vrs=*/2);
  v1::ProbeResponse response;
  ASSERT_TRUE(Call(RequestFor("VR 1", "service.example.test", target_->port()), &response).ok());
  ASSERT_TRUE(Call(RequestFor("VR 2", "service.example.test", target_->port()), &response).ok());
  grpc::Status full = Call(RequestFor("VR 3", "service.example.test", target_->port()), &response);
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(full.error_message(), HasSubstr("this agent remembers 2 VRs probed in the last 10m"));
  EXPECT_EQ(
      Call(RequestFor("VR 1", "service.example.test", target_->port()), &response).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(MetricValue(registry_, "mecai_probe_agent_repeated_vr_refusals_total", "memory_full"),
            1);
  EXPECT_EQ(service_->in_flight_probes(), 0u);
}

TEST_F(ProbeServiceTest, ClientCancellationEndsTheProbeAndClosesItsConnection) {
  // The handshake would wait 50 s for the silent target; the cancellation ends it long before.
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      StartServiceWithSilentTarget(/*max_in_flight=*/4);
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(55));
  grpc::Status status;
  v1::ProbeResponse response;
  std::thread call([&] {
    status = client_->Probe(&context, Request("silent.example.test", (*silent)->port()), &response);
  });
  const bool connected = (*silent)->WaitForConnections(1, absl::Seconds(10));
  const uint32_t in_flight = service_->in_flight_probes();
  context.TryCancel();
  call.join();  // Before any assertion can return.
  ASSERT_TRUE(connected);
  EXPECT_EQ(in_flight, 1u);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  // The agent closes its connection to the target: the target sees the close.
  EXPECT_TRUE(Eventually([&] { return (*silent)->closed_by_peer() == 1; }))
      << (*silent)->closed_by_peer() << " closed";
  // The agent's side of the call ends too: its slot is free well before the handshake timeout.
  EXPECT_TRUE(Eventually([&] { return service_->in_flight_probes() == 0; }))
      << service_->in_flight_probes() << " still in flight";
}

// A streamed probe of `request`'s task with `id` and a 20 s budget.
v1::StreamedProbe Streamed(uint64_t id, const v1::ProbeRequest& request) {
  v1::StreamedProbe probe;
  probe.set_id(id);
  *probe.mutable_task() = request.task();
  probe.set_timeout_milliseconds(20000);
  return probe;
}

using ProbeStream = grpc::ClientReaderWriter<v1::ProbeStreamRequest, v1::ProbeStreamResponse>;

// Reads results until `count` have come (or the stream ends), by id.
std::map<uint64_t, v1::StreamedProbeResult> ReadResults(ProbeStream& stream, size_t count) {
  std::map<uint64_t, v1::StreamedProbeResult> results;
  v1::ProbeStreamResponse response;
  while (results.size() < count && stream.Read(&response)) {
    for (const v1::StreamedProbeResult& result : response.results()) results[result.id()] = result;
  }
  return results;
}

TEST_F(ProbeServiceTest, AStreamAnswersEachProbeByItsIdAsACallWouldAndEndsAfterTheHalfClose) {
  StartService(/*max_in_flight=*/64);
  grpc::ClientContext context;
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  v1::ProbeStreamRequest request;
  *request.add_probes() = Streamed(11, Request("service.example.test", target_->port()));
  request.add_probes()->set_id(12);  // No task.
  v1::StreamedProbe no_budget = Streamed(13, Request("service.example.test", target_->port()));
  no_budget.set_timeout_milliseconds(0);
  *request.add_probes() = no_budget;
  v1::StreamedProbe too_long = Streamed(14, Request("service.example.test", target_->port()));
  too_long.set_timeout_milliseconds(600001);
  *request.add_probes() = too_long;
  *request.add_probes() = Streamed(15, Request("", target_->port()));  // No hostname.
  request.add_cancelled_ids(99);                                       // Unknown: ignored.
  ASSERT_TRUE(stream->Write(request));

  std::map<uint64_t, v1::StreamedProbeResult> results = ReadResults(*stream, 5);
  ASSERT_EQ(results.size(), 5u);
  const v1::StreamedProbeResult& observed = results[11];
  EXPECT_EQ(observed.status_code(), 0) << observed.status_message();
  ASSERT_TRUE(VerifyObject(public_key_.get(), SignedObject::kObservation,
                           observed.observation().signature(), observed.observation().tbs())
                  .ok());
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(observed.observation().tbs()));
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_EQ(body.hostname(), "service.example.test");
  for (uint64_t id : {12, 13, 14, 15}) {
    EXPECT_EQ(results[id].status_code(), grpc::StatusCode::INVALID_ARGUMENT) << id;
    EXPECT_FALSE(results[id].has_observation()) << id;
  }
  EXPECT_EQ(results[12].status_message(), "StreamedProbe.task is missing");
  EXPECT_EQ(results[13].status_message(),
            "StreamedProbe.timeout_milliseconds must be 1 to 600000, not 0");
  EXPECT_EQ(results[14].status_message(),
            "StreamedProbe.timeout_milliseconds must be 1 to 600000, not 600001");
  EXPECT_THAT(results[15].status_message(), HasSubstr("hostname"));

  // The same VR again, on the stream: refused as a second call for it is.
  v1::ProbeStreamRequest again;
  *again.add_probes() =
      Streamed(16, RequestFor("the same vr", "service.example.test", target_->port()));
  *again.add_probes() = Streamed(17, RequestFor("the same vr", "service.example.test",
                                                target_->port(), std::string(16, '\x02')));
  ASSERT_TRUE(stream->Write(again));
  results = ReadResults(*stream, 2);
  ASSERT_EQ(results.size(), 2u);
  const int first_ok = results[16].status_code() == 0 ? 16 : 17;
  const int repeated = first_ok == 16 ? 17 : 16;
  EXPECT_EQ(results[first_ok].status_code(), 0) << results[first_ok].status_message();
  EXPECT_EQ(results[repeated].status_code(), grpc::StatusCode::ALREADY_EXISTS);

  ASSERT_TRUE(stream->WritesDone());
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(service_->in_flight_probes(), 0u);
}

TEST_F(ProbeServiceTest, AStreamStopsAProbeByItsIdAndRefusesAnIdThatIsRunning) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      StartServiceWithSilentTarget(/*max_in_flight=*/1);
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(40));
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  v1::ProbeStreamRequest first;
  *first.add_probes() = Streamed(1, Request("silent.example.test", (*silent)->port()));
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE((*silent)->WaitForConnections(1, absl::Seconds(10)));

  // Id 1 is running; another probe would exceed the agent's limit of one.
  v1::ProbeStreamRequest second;
  *second.add_probes() = Streamed(1, Request("service.example.test", target_->port()));
  *second.add_probes() = Streamed(2, Request("service.example.test", target_->port()));
  ASSERT_TRUE(stream->Write(second));
  std::map<uint64_t, v1::StreamedProbeResult> refused = ReadResults(*stream, 2);
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[1].status_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused[1].status_message(), "probe id 1 is already running on this stream");
  EXPECT_EQ(refused[2].status_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused[2].status_message(),
            "the probe agent is at its limit of 1 probes in flight; retry later");

  v1::ProbeStreamRequest cancel;
  cancel.add_cancelled_ids(1);
  ASSERT_TRUE(stream->Write(cancel));
  std::map<uint64_t, v1::StreamedProbeResult> cancelled = ReadResults(*stream, 1);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[1].status_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return (*silent)->closed_by_peer() == 1; }));
  EXPECT_EQ(service_->in_flight_probes(), 0u);

  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ProbeServiceTest, CancellingAStreamStopsEveryProbeRunningOnIt) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      StartServiceWithSilentTarget(/*max_in_flight=*/8);
  ASSERT_TRUE(silent.ok()) << silent.status();

  grpc::ClientContext context;
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  v1::ProbeStreamRequest request;
  for (uint64_t id = 1; id <= 3; ++id) {
    *request.add_probes() = Streamed(id, Request("silent.example.test", (*silent)->port()));
  }
  ASSERT_TRUE(stream->Write(request));
  const bool connected = (*silent)->WaitForConnections(3, absl::Seconds(10));
  const uint32_t in_flight = service_->in_flight_probes();
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(connected);
  EXPECT_EQ(in_flight, 3u);
  EXPECT_TRUE(Eventually([&] { return (*silent)->closed_by_peer() == 3; }))
      << (*silent)->closed_by_peer() << " closed";
  EXPECT_TRUE(Eventually([&] { return service_->in_flight_probes() == 0; }))
      << service_->in_flight_probes() << " still in flight";
}

TEST_F(ProbeServiceTest, ManyProbesOnOneStreamAllAnswer) {
  constexpr int kProbes = 40;
  StartService(/*max_in_flight=*/64);
  grpc::ClientContext context;
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  // One probe per message, written as fast as they go: results come back in fewer messages.
  for (uint64_t id = 1; id <= kProbes; ++id) {
    v1::ProbeStreamRequest request;
    *request.add_probes() = Streamed(id, Request("service.example.test", target_->port()));
    ASSERT_TRUE(stream->Write(request));
  }
  std::map<uint64_t, v1::StreamedProbeResult> results = ReadResults(*stream, kProbes);
  ASSERT_EQ(results.size(), static_cast<size_t>(kProbes));
  for (const auto& [id, result] : results) {
    EXPECT_EQ(result.status_code(), 0) << id << ": " << result.status_message();
    EXPECT_TRUE(result.has_observation()) << id;
  }
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ProbeServiceTest, AStreamMessageWithTooManyProbesEndsTheStreamAndStartsNone) {
  StartService(/*max_in_flight=*/64);
  grpc::ClientContext context;
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  v1::ProbeStreamRequest request;
  for (uint64_t id = 1; id <= 1025; ++id) request.add_probes()->set_id(id);
  ASSERT_TRUE(stream->Write(request));
  v1::ProbeStreamResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "a ProbeStreamRequest carried 1025 probes; at most 1024 are taken");
  EXPECT_EQ(service_->in_flight_probes(), 0u);
}

TEST_F(ProbeServiceTest, AProbeCancelledInTheMessageThatBringsItIsStopped) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      StartServiceWithSilentTarget(/*max_in_flight=*/4);
  ASSERT_TRUE(silent.ok()) << silent.status();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(40));
  std::unique_ptr<ProbeStream> stream = client_->ProbeStream(&context);
  v1::ProbeStreamRequest request;
  *request.add_probes() = Streamed(5, Request("silent.example.test", (*silent)->port()));
  request.add_cancelled_ids(5);
  ASSERT_TRUE(stream->Write(request));
  std::map<uint64_t, v1::StreamedProbeResult> results = ReadResults(*stream, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[5].status_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return service_->in_flight_probes() == 0; }));
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
