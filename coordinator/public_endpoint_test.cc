// The public endpoint (docs/PROTOCOL.md "The public endpoint", "The HTTP binding") in front of a
// stand-in for the coordinator: the HTTP binding's statuses, headers and media types, the size
// limit before the coordinator sees anything, the admission limits refused at once with
// Retry-After, faults mapped to statuses, every refusal counted by binding and reason; and the gRPC
// binding on a real server-authenticated server on loopback, reached without a client
// certificate, serving nothing but Vouch. The whole endpoint against the real binaries is
// tests/public_endpoint_test.cc.
#include "coordinator/public_endpoint.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/base/status.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/mtls_files.h"
#include "common/testing/process_threads.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/testing/tls_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr size_t kMaxRequestBytes = 1024;

// The value of the counter `name` with exactly `labels`, 0 when there is none.
double CounterValue(prometheus::Registry& registry, const std::string& name,
                    const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> have;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        have[label.name] = label.value;
      }
      if (have == labels) return metric.counter.value;
    }
  }
  return 0;
}

v1::VouchResponse IssuedResponse() {
  v1::VouchResponse response;
  response.mutable_vouching_data()->set_statement("a statement");
  response.set_log_index(42);
  return response;
}

v1::VouchResponse RefusedResponse(v1::RefusalReason reason) {
  v1::VouchResponse response;
  response.mutable_refusal()->set_reason(reason);
  response.mutable_refusal()->set_explanation("because");
  return response;
}

HttpServerRequest Post(const std::string& body, const std::string& address = "192.0.2.1") {
  HttpServerRequest request;
  request.method = "POST";
  request.path = kPublicVouchPath;
  request.headers["content-type"] = kVouchingRequestMediaType;
  request.body = body;
  request.remote_address = address;
  return request;
}

std::string Header(const HttpServerResponse& response, const std::string& name) {
  for (const auto& [header, value] : response.headers) {
    if (header == name) return value;
  }
  return "";
}

class PublicEndpointTest : public ::testing::Test {
 protected:
  // An endpoint whose coordinator answers `answer_` (after waiting for `release_` when `hold_`).
  void Create(AdmissionLimits limits = AdmissionLimits()) {
    endpoint_ = std::make_unique<PublicEndpoint>(
        kMaxRequestBytes, limits,
        PublicEndpoint::Inline(
            [this](const std::string& serialized) -> absl::StatusOr<v1::VouchResponse> {
              ++calls_;
              {
                absl::MutexLock lock(&last_request_mutex_);
                last_request_ = serialized;
              }
              if (hold_) {
                entered_.fetch_add(1);
                release_.WaitForNotificationWithTimeout(absl::Seconds(30));
              }
              return answer_;
            }),
        &metrics_);
  }

  double Refusals(const std::string& binding, const std::string& reason) {
    return CounterValue(registry_, "mecai_coordinator_public_refusals_total",
                        {{"binding", binding}, {"reason", reason}});
  }

  // Waits (bounded) until `count` calls are inside the coordinator.
  bool AwaitEntered(int count) {
    for (int i = 0; i < 1000 && entered_.load() < count; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    return entered_.load() >= count;
  }

  prometheus::Registry registry_;
  PublicEndpointMetrics metrics_{registry_};
  std::unique_ptr<PublicEndpoint> endpoint_;
  absl::StatusOr<v1::VouchResponse> answer_ = IssuedResponse();
  // The last VR the coordinator was given.
  std::string LastRequest() {
    absl::MutexLock lock(&last_request_mutex_);
    return last_request_;
  }

  std::atomic<int> calls_{0};
  absl::Mutex last_request_mutex_;
  std::string last_request_ ABSL_GUARDED_BY(last_request_mutex_);
  bool hold_ = false;
  std::atomic<int> entered_{0};
  absl::Notification release_;
};

TEST_F(PublicEndpointTest, AnIssuedVdIsTheSerializedResponseOrTheBareVdWhenAskedFor) {
  Create();
  HttpServerResponse response = endpoint_->HandleHttp(Post("vr bytes"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, kVouchingResponseMediaType);
  EXPECT_EQ(Header(response, "MECAI-Decision"), "issued");
  v1::VouchResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(response.body));
  EXPECT_EQ(parsed.log_index(), 42u);
  EXPECT_EQ(LastRequest(), "vr bytes");

  HttpServerRequest bare = Post("vr bytes");
  bare.headers["accept"] = "text/plain, application/x-mecai-vouching-data;q=0.9";
  response = endpoint_->HandleHttp(bare);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, kVouchingDataMediaType);
  EXPECT_EQ(response.body, IssuedResponse().vouching_data().SerializeAsString());
  EXPECT_EQ(CounterValue(registry_, "mecai_coordinator_public_requests_total",
                         {{"binding", "http"}, {"outcome", "issued"}}),
            2);
}

// Trust rule 2: a refused VR is a 200 carrying the refusal, counted by its reason.
TEST_F(PublicEndpointTest, ARefusedVrIsDataCountedByItsReason) {
  answer_ = RefusedResponse(v1::BAD_SIGNATURE);
  Create();
  HttpServerRequest request = Post("vr bytes");
  request.headers["accept"] = kVouchingDataMediaType;  // No VD: the response it is.
  HttpServerResponse response = endpoint_->HandleHttp(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, kVouchingResponseMediaType);
  EXPECT_EQ(Header(response, "MECAI-Decision"), "refused");
  EXPECT_EQ(Header(response, "MECAI-Refusal-Reason"), "BAD_SIGNATURE");
  v1::VouchResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(response.body));
  EXPECT_EQ(parsed.refusal().reason(), v1::BAD_SIGNATURE);
  EXPECT_EQ(Refusals("http", "bad_signature"), 1);
  answer_ = RefusedResponse(v1::MALFORMED_REQUEST);
  endpoint_->HandleHttp(Post("vr bytes"));
  EXPECT_EQ(Refusals("http", "malformed"), 1);
  answer_ = RefusedResponse(v1::RATE_LIMITED);
  endpoint_->HandleHttp(Post("vr bytes"));
  EXPECT_EQ(Refusals("http", "rate_limited"), 1);
}

TEST_F(PublicEndpointTest, OnlyAPostOfAVrToTheVouchPathIsServed) {
  Create();
  HttpServerRequest wrong_path = Post("vr bytes");
  wrong_path.path = "/mecai.v1.AuditService/GetRecord";
  EXPECT_EQ(endpoint_->HandleHttp(wrong_path).status, 404);
  HttpServerRequest wrong_method = Post("");
  wrong_method.method = "GET";
  HttpServerResponse not_allowed = endpoint_->HandleHttp(wrong_method);
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(Header(not_allowed, "Allow"), "POST");
  HttpServerRequest wrong_type = Post("vr bytes");
  wrong_type.headers["content-type"] = "application/x-www-form-urlencoded";
  HttpServerResponse unsupported = endpoint_->HandleHttp(wrong_type);
  EXPECT_EQ(unsupported.status, 415);
  EXPECT_THAT(unsupported.body, HasSubstr(kVouchingRequestMediaType));
  HttpServerRequest no_type = Post("vr bytes");
  no_type.headers.erase("content-type");
  EXPECT_EQ(endpoint_->HandleHttp(no_type).status, 415);
  EXPECT_EQ(endpoint_->HandleHttp(Post("")).status, 400);
  // Media type parameters and case do not matter.
  HttpServerRequest with_parameter = Post("vr bytes");
  with_parameter.headers["content-type"] = "Application/X-MECAI-Vouching-Request; v=1";
  EXPECT_EQ(endpoint_->HandleHttp(with_parameter).status, 200);
  EXPECT_EQ(calls_.load(), 1);
  EXPECT_EQ(Refusals("http", "malformed"), 5);
}

TEST_F(PublicEndpointTest, AVrOverTheSizeLimitNeverReachesTheCoordinator) {
  Create();
  HttpServerResponse response = endpoint_->HandleHttp(Post(std::string(kMaxRequestBytes + 1, 'x')));
  EXPECT_EQ(response.status, 413);
  EXPECT_THAT(response.body, HasSubstr("at most 1024 are accepted"));
  PublicEndpoint::Answer answer =
      endpoint_->Vouch(PublicBinding::kGrpc, "192.0.2.1", std::string(kMaxRequestBytes + 1, 'x'));
  EXPECT_EQ(answer.response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_EQ(Refusals("http", "too_large"), 1);
  EXPECT_EQ(Refusals("grpc", "too_large"), 1);
  // The HTTP server's own refusals count too.
  endpoint_->CountHttpServerRefusal(HttpServerRefusal::kBodyTooLarge);
  endpoint_->CountHttpServerRefusal(HttpServerRefusal::kRequestTimeout);
  EXPECT_EQ(Refusals("http", "too_large"), 2);
  EXPECT_EQ(Refusals("http", "request_timeout"), 1);
}

// One address over its share is refused at once (429); every slot taken and no room to wait is
// refused at once (503); both say when to try again; other addresses go on.
TEST_F(PublicEndpointTest, AdmissionLimitsAreRefusedAtOnceWithRetryAfter) {
  AdmissionLimits limits;
  limits.max_in_flight = 2;
  limits.max_queued = 0;
  limits.max_per_address = 1;
  limits.queue_timeout = absl::Seconds(3);
  hold_ = true;
  Create(limits);
  std::vector<std::thread> held;
  std::vector<int> held_statuses(2, 0);
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([this, i, &held_statuses] {
      held_statuses[i] =
          endpoint_->HandleHttp(Post("vr bytes", "192.0.2." + std::to_string(i + 1))).status;
    });
  }
  ASSERT_TRUE(AwaitEntered(2));
  HttpServerResponse same_address = endpoint_->HandleHttp(Post("vr bytes", "192.0.2.1"));
  EXPECT_EQ(same_address.status, 429);
  EXPECT_EQ(Header(same_address, "Retry-After"), "3");
  EXPECT_THAT(same_address.body, HasSubstr("already has 1 VRs being decided or waiting"));
  HttpServerResponse full = endpoint_->HandleHttp(Post("vr bytes", "192.0.2.3"));
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(Header(full, "Retry-After"), "3");
  PublicEndpoint::Answer over_grpc = endpoint_->Vouch(PublicBinding::kGrpc, "192.0.2.4", "vr");
  EXPECT_EQ(over_grpc.response.status().code(), absl::StatusCode::kResourceExhausted);
  release_.Notify();
  for (std::thread& thread : held) thread.join();
  EXPECT_THAT(held_statuses, testing::Each(200));
  EXPECT_EQ(Refusals("http", "over_address_limit"), 1);
  EXPECT_EQ(Refusals("http", "over_global_limit"), 1);
  EXPECT_EQ(Refusals("grpc", "over_global_limit"), 1);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(PublicEndpointTest, AVrThatWaitsTooLongInTheQueueIsRefused) {
  AdmissionLimits limits;
  limits.max_in_flight = 1;
  limits.max_queued = 4;
  limits.max_per_address = 4;
  limits.queue_timeout = absl::Milliseconds(200);
  hold_ = true;
  Create(limits);
  std::thread held([this] { endpoint_->HandleHttp(Post("vr bytes", "192.0.2.1")); });
  ASSERT_TRUE(AwaitEntered(1));
  HttpServerResponse waited = endpoint_->HandleHttp(Post("vr bytes", "192.0.2.2"));
  EXPECT_EQ(waited.status, 503);
  EXPECT_THAT(waited.body, HasSubstr("no slot came free within 200ms"));
  EXPECT_EQ(Header(waited, "Retry-After"), "1");
  release_.Notify();
  held.join();
  EXPECT_EQ(Refusals("http", "queue_timeout"), 1);
}

TEST_F(PublicEndpointTest, FaultsOfTheSystemAreStatusesNotDecisions) {
  Create();
  for (const auto& [status, http] : std::vector<std::pair<absl::Status, int>>{
           {absl::AbortedError("being decided by an earlier call; send it again"), 409},
           {absl::UnavailableError("the signer could not be reached"), 503},
           {absl::DeadlineExceededError("too slow"), 504},
           {absl::InternalError("oops"), 500}}) {
    answer_ = status;
    HttpServerResponse response = endpoint_->HandleHttp(Post("vr bytes"));
    EXPECT_EQ(response.status, http) << status;
    EXPECT_EQ(response.content_type, "text/plain; charset=utf-8");
    EXPECT_THAT(response.body, HasSubstr(std::string(status.message())));
  }
  EXPECT_EQ(CounterValue(registry_, "mecai_coordinator_public_requests_total",
                         {{"binding", "http"}, {"outcome", "fault"}}),
            4);
}

// The gRPC binding on a real server-authenticated server: a client without a certificate is
// served Vouch, and nothing else (the internal services are not registered there).
TEST_F(PublicEndpointTest, TheGrpcBindingServesVouchWithoutAClientCertificateAndNothingElse) {
  Create();
  ASSERT_OK_AND_ASSIGN(const std::string directory, test_pki::MakeTempDirectory());
  ASSERT_OK_AND_ASSIGN(
      MutualTlsFiles files,
      WriteMutualTlsFiles(directory, "public_endpoint_test CA", "vouching-server", "unused"));
  v1::CoordinatorConfig config;
  config.set_max_request_bytes(kMaxRequestBytes);
  v1::PublicListenConfig* listen = config.mutable_public_listen();
  listen->set_address("127.0.0.1:0");
  listen->set_certificate_file(files.server_certificate);
  listen->set_private_key_file(files.server_key);
  listen->set_max_in_flight(4);
  listen->set_max_queued(4);
  listen->set_max_in_flight_per_address(4);
  listen->set_request_timeout_milliseconds(10000);
  listen->set_handshake_timeout_milliseconds(5000);
  listen->set_idle_timeout_seconds(10);
  ASSERT_OK_AND_ASSIGN(PublicEndpointServers servers, StartPublicEndpoint(config, *endpoint_));
  ASSERT_NE(servers.grpc, nullptr);
  EXPECT_EQ(servers.http, nullptr);

  v1::PeerConfig peer;
  peer.set_address("127.0.0.1:" + std::to_string(servers.grpc->port()));
  peer.mutable_tls()->set_server_ca_file(files.ca);
  peer.mutable_tls()->set_server_identity("vouching-server");
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, MakeChannel(peer));
  auto stub = v1::VouchingService::NewStub(channel);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::VouchRequest request;
    request.set_vouching_request("vr bytes");
    v1::VouchResponse response;
    grpc::Status status = stub->Vouch(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.log_index(), 42u);
    EXPECT_EQ(LastRequest(), "vr bytes");
  }
  {
    // Over max_request_bytes (but within what gRPC takes): refused, counted, never decided.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::VouchRequest request;
    request.set_vouching_request(std::string(kMaxRequestBytes + 1, 'x'));
    v1::VouchResponse response;
    grpc::Status status = stub->Vouch(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(Refusals("grpc", "too_large"), 1);
    EXPECT_EQ(calls_.load(), 1);
  }
  {
    // A service of the mutual-TLS listener is not there.
    auto audit = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListShardsResponse shards;
    grpc::Status status = audit->ListShards(&context, v1::ListShardsRequest(), &shards);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  }
  servers.grpc->Shutdown();
}

// A public endpoint on an HTTPS binding at 127.0.0.1, taking `max_in_flight` VRs at once (from one
// address too), and the CA file that verifies its fresh certificate.
struct HttpsEndpointSetup {
  v1::CoordinatorConfig config;
  std::string ca_file;
};

absl::StatusOr<HttpsEndpointSetup> HttpsEndpointConfig(int max_in_flight) {
  HttpsEndpointSetup setup;
  v1::CoordinatorConfig& config = setup.config;
  config.set_max_request_bytes(kMaxRequestBytes);
  v1::PublicListenConfig* listen = config.mutable_public_listen();
  listen->set_http_address("127.0.0.1:0");
  listen->set_max_in_flight(max_in_flight);
  listen->set_max_queued(max_in_flight);
  listen->set_max_in_flight_per_address(max_in_flight);
  listen->set_max_connections(64);
  listen->set_max_connections_per_address(32);
  listen->set_request_timeout_milliseconds(10000);
  listen->set_handshake_timeout_milliseconds(5000);
  listen->set_idle_timeout_seconds(10);
  ASSIGN_OR_RETURN(const std::string directory, test_pki::MakeTempDirectory());
  ASSIGN_OR_RETURN(MutualTlsFiles files, WriteMutualTlsFiles(directory, "public_endpoint_test CA",
                                                             "vouching-server", "unused"));
  listen->set_certificate_file(files.server_certificate);
  listen->set_private_key_file(files.server_key);
  setup.ca_file = files.ca;
  return setup;
}

// The HTTPS binding holds no thread while a VR is decided: 16 VRs over HTTPS are all with the
// coordinator at once (its HTTP server has 4 threads), the process has not gained a thread per
// connection meanwhile, and each client gets its answer when its decision comes, counted as before.
TEST(PublicEndpointHttpsTest, VrsBeingDecidedHoldNoThreadOfTheHttpsBinding) {
  constexpr int kClients = 16;
  absl::Mutex mutex;
  std::vector<PublicEndpoint::VouchDone> deciding;
  prometheus::Registry registry;
  PublicEndpointMetrics metrics(registry);
  ASSERT_OK_AND_ASSIGN(HttpsEndpointSetup setup, HttpsEndpointConfig(kClients));
  const v1::CoordinatorConfig& config = setup.config;
  std::unique_ptr<PublicEndpoint> endpoint = PublicEndpoint::FromConfig(
      config,
      [&mutex, &deciding](const std::string&, absl::Time, PublicEndpoint::VouchDone done) {
        absl::MutexLock lock(&mutex);
        deciding.push_back(std::move(done));
      },
      &metrics);
  ASSERT_OK_AND_ASSIGN(PublicEndpointServers servers, StartPublicEndpoint(config, *endpoint));
  ASSERT_NE(servers.http, nullptr);

  const int threads_before = ThreadsOfThisProcess();
  std::vector<std::unique_ptr<TlsTestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(setup.ca_file, "vouching-server",
                                                             servers.http->port()));
    ASSERT_TRUE(client->Write(absl::StrCat(
        "POST ", kPublicVouchPath, " HTTP/1.1\r\nHost: vouching-server\r\nContent-Type: ",
        kVouchingRequestMediaType, "\r\nContent-Length: 8\r\n\r\nvr bytes")));
    clients.push_back(std::move(client));
  }
  std::vector<PublicEndpoint::VouchDone> decided;
  {
    absl::MutexLock lock(&mutex);
    auto all_deciding = [&deciding] { return deciding.size() == kClients; };
    ASSERT_TRUE(mutex.AwaitWithTimeout(absl::Condition(&all_deciding), absl::Seconds(30)))
        << deciding.size() << " of " << kClients << " VRs reached the coordinator";
    decided.swap(deciding);
  }
  // Neither the TLS relay nor the HTTP server has a thread per connection.
  EXPECT_LT(ThreadsOfThisProcess(), threads_before + kClients / 2)
      << "threads before the connections: " << threads_before;
  for (PublicEndpoint::VouchDone& done : decided) done(IssuedResponse());
  for (int i = 0; i < kClients; ++i) {
    const std::string response = clients[i]->ReadAll();
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_THAT(response, HasSubstr("MECAI-Decision: issued\r\n")) << i;
  }
  EXPECT_EQ(CounterValue(registry, "mecai_coordinator_public_requests_total",
                         {{"binding", "http"}, {"outcome", "issued"}}),
            kClients);
}

// A flood of TLS handshakes from one address on the HTTPS binding: beyond its burst (2, then 1 a
// second) each connection is closed before its handshake, and each is counted under reason
// address_handshake_rate.
TEST(PublicEndpointHttpsTest, AHandshakeFloodIsRefusedAndCountedByItsReason) {
  // A refused client's ClientHello goes to a closed connection: EPIPE, not the end of the test.
  signal(SIGPIPE, SIG_IGN);
  prometheus::Registry registry;
  PublicEndpointMetrics metrics(registry);
  ASSERT_OK_AND_ASSIGN(HttpsEndpointSetup setup, HttpsEndpointConfig(4));
  const v1::CoordinatorConfig& config = setup.config;
  v1::PublicListenConfig* listen = setup.config.mutable_public_listen();
  listen->set_handshakes_per_second_per_address(1);
  listen->set_handshake_burst_per_address(2);
  std::unique_ptr<PublicEndpoint> endpoint = PublicEndpoint::FromConfig(
      config,
      [](const std::string&, absl::Time, PublicEndpoint::VouchDone done) {
        done(IssuedResponse());
      },
      &metrics);
  ASSERT_OK_AND_ASSIGN(PublicEndpointServers servers, StartPublicEndpoint(config, *endpoint));
  ASSERT_NE(servers.http, nullptr);
  constexpr int kAttempts = 10;
  int refused = 0;
  for (int i = 0; i < kAttempts; ++i) {
    if (!TlsTestClient::Connect(setup.ca_file, "vouching-server", servers.http->port()).ok())
      ++refused;
  }
  // 10 back to back: the first 2 are admitted, and at most one more per second they take.
  EXPECT_GE(refused, 1);
  EXPECT_LE(refused, kAttempts - 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (CounterValue(registry, "mecai_coordinator_public_refusals_total",
                      {{"binding", "http"}, {"reason", "address_handshake_rate"}}) < refused &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(CounterValue(registry, "mecai_coordinator_public_refusals_total",
                         {{"binding", "http"}, {"reason", "address_handshake_rate"}}),
            refused);
  EXPECT_EQ(CounterValue(registry, "mecai_coordinator_public_refusals_total",
                         {{"binding", "http"}, {"reason", "tls_handshake"}}),
            0);
}

}  // namespace
}  // namespace mecai
