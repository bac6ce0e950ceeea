// The coordinator's public Vouch endpoint against the real binaries (docs/PROTOCOL.md "The public
// endpoint", "The HTTP binding", "Decision reuse"; docs/SECURITY.md): a TLS server that holds no
// client certificate of the VA gets a VD over gRPC and over an HTTPS POST, with `mecai vouch` and
// with curl; the many servers of one site (one name, one certificate, a VR each) cost one probe
// round, not one each; VRs that cannot be issued (a self-signed certificate, a bad signature) do
// not spend the name's probe budget, so they cannot block its real server (M5); bad input of every
// kind is refused, counted by reason and writes nothing, while the mutual-TLS listener serves on;
// and nothing but Vouch is reachable on the public listener. Loopback only; every loop bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/vouch_client.h"
#include "cluster/local_cluster.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/net/http_binding.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/testing/tls_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/trust_list.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "stapler/stapler_daemon.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

// The public endpoint's time limits in these clusters, short so that cut-offs are quick.
constexpr uint32_t kRequestTimeoutMilliseconds = 2000;
constexpr uint32_t kHandshakeTimeoutMilliseconds = 1000;

LocalClusterOptions PublicEndpointClusterOptions() {
  LocalClusterOptions options;
  options.public_endpoint_limits.set_request_timeout_milliseconds(kRequestTimeoutMilliseconds);
  options.public_endpoint_limits.set_handshake_timeout_milliseconds(kHandshakeTimeoutMilliseconds);
  // Every client of these tests is 127.0.0.1, with dozens of HTTPS connections a second: the
  // handshake rate limit (common/net/http_server_test.cc tests it) is set out of their way.
  options.public_endpoint_limits.set_handshakes_per_second_per_address(1000);
  options.public_endpoint_limits.set_handshake_burst_per_address(1000);
  return options;
}

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
      char buffer[8192];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) text.append(buffer, n);
    }
  }
  close(fd);
  return text;
}

// The sum of the samples of `name` whose labels include every one of `labels` ("key=\"value\"").
double MetricSum(const std::string& text, const std::string& name,
                 const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size() ||
        (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    const size_t space = line.rfind(' ');
    const absl::string_view series = line.substr(0, space);
    bool matches = true;
    for (const std::string& label : labels) matches = matches && absl::StrContains(series, label);
    double value = 0;
    if (matches && absl::SimpleAtod(line.substr(space + 1), &value)) sum += value;
  }
  return sum;
}

class PublicEndpointClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("public", PublicEndpointClusterOptions()));
    cluster_ = cluster.release();
  }

  static void TearDownTestSuite() {
    delete cluster_;  // Stops every process.
    cluster_ = nullptr;
  }

  // A fresh VR for the target, signed with the key of pki/`name`.pem.
  static std::string MakeRequest(const std::string& name = "server") {
    auto request = SignedRequestFromFiles(
        cluster_->Path("pki/" + name + ".pem"), cluster_->Path("pki/" + name + ".key"),
        LocalCluster::kTargetHost, static_cast<uint32_t>(cluster_->target_port()),
        LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  // The public endpoint's HTTPS binding, as `mecai vouch --http` reaches it.
  static v1::PeerConfig PublicHttpPeer() {
    v1::PeerConfig peer = cluster_->CoordinatorPublicPeer();
    peer.set_address(absl::StrCat("127.0.0.1:", cluster_->coordinator_public_http_port()));
    return peer;
  }

  static std::shared_ptr<grpc::Channel> Channel(const v1::PeerConfig& peer) {
    auto channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.value_or(nullptr);
  }

  static absl::StatusOr<v1::VouchResponse> VouchPublicGrpc(const std::string& request) {
    return CallVouch(*Channel(cluster_->CoordinatorPublicPeer()), request);
  }

  static absl::StatusOr<v1::VouchResponse> VouchPublicHttp(const std::string& request) {
    return PostVouchingRequest(PublicHttpPeer(), request, absl::Seconds(60));
  }

  // Over the mutual-TLS listener, as the "stapler" identity.
  static absl::StatusOr<v1::VouchResponse> VouchInternal(const std::string& request) {
    return CallVouch(*Channel(cluster_->CoordinatorPeer()), request);
  }

  static uint64_t TreeSize() {
    auto stub = v1::AuditService::NewStub(Channel(cluster_->CoordinatorPeer()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ListShardsResponse response;
    EXPECT_TRUE(stub->ListShards(&context, v1::ListShardsRequest(), &response).ok());
    return response.shards_size() > 0 ? response.shards(0).tree_size() : 0;
  }

  static std::string CoordinatorMetrics() {
    auto port = cluster_->MetricsPort("coordinator");
    EXPECT_TRUE(port.ok()) << port.status();
    return FetchMetrics(port.value_or(0));
  }

  // Writes `response`'s VD to `name` under the work directory and verifies it as a client would.
  static void ExpectVdVerifies(const v1::VouchResponse& response, const std::string& name) {
    ASSERT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
    const std::string file = cluster_->Path(name);
    ASSERT_OK(WriteFileAtomically(file, response.vouching_data().SerializeAsString()));
    VerifyOptions verify;
    verify.vouching_data_file = file;
    verify.hostname = LocalCluster::kTargetHost;
    verify.certificate_file = cluster_->ServerLeafFile();
    verify.va_list_file = cluster_->VaListFile();
    auto statement = VerifyVouchingDataFile(verify);
    EXPECT_TRUE(statement.ok()) << statement.status();
  }

  // Runs the real `mecai` (at most 60 s); its exit code and output.
  static std::pair<int, std::string> Mecai(const std::vector<std::string>& arguments) {
    static int counter = 0;
    std::vector<std::string> argv = {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai")};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const std::string log = cluster_->Path(absl::StrCat("logs/mecai-", ++counter, ".log"));
    auto process = ChildProcess::Start(argv, log);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return {-1, ""};
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(60))) << "mecai did not exit";
    return {(*process)->ExitCode(), ReadFile(log).value_or("")};
  }

  static LocalCluster* cluster_;
};

LocalCluster* PublicEndpointClusterTest::cluster_ = nullptr;

// The MECAI proposal's servers ask Vouching Servers of many VAs and hold no VA's client
// certificate: the VR's signature is the authentication.
TEST_F(PublicEndpointClusterTest, AServerWithoutAClientCertificateGetsAVdOverGrpcAndHttps) {
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse over_grpc, VouchPublicGrpc(MakeRequest()));
  ExpectVdVerifies(over_grpc, "public-grpc.vd");
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse over_http, VouchPublicHttp(MakeRequest()));
  ExpectVdVerifies(over_http, "public-http.vd");
  // The same client is refused by the mutual-TLS listener: it presents no certificate.
  v1::PeerConfig internal = cluster_->CoordinatorPublicPeer();
  internal.set_address(absl::StrCat("127.0.0.1:", cluster_->coordinator_port()));
  EXPECT_THAT(CallVouch(*Channel(internal), MakeRequest()),
              StatusIs(absl::StatusCode::kUnavailable, testing::_));
}

// `mecai vouch` with --tls-ca alone: no client certificate, over gRPC and with --http.
TEST_F(PublicEndpointClusterTest, MecaiVouchReachesThePublicEndpointWithoutAClientCertificate) {
  for (const bool http : {false, true}) {
    SCOPED_TRACE(http ? "--http" : "gRPC");
    const std::string vd = cluster_->Path(http ? "mecai-http.vd" : "mecai-grpc.vd");
    std::vector<std::string> arguments = {
        "vouch",
        "--vs",
        absl::StrCat("127.0.0.1:", http ? cluster_->coordinator_public_http_port()
                                        : cluster_->coordinator_public_port()),
        "--host",
        LocalCluster::kTargetHost,
        "--port",
        absl::StrCat(cluster_->target_port()),
        "--trust-list",
        LocalCluster::kTrustList,
        "--cert",
        cluster_->ServerChainFile(),
        "--key",
        cluster_->ServerKeyFile(),
        "--out",
        vd,
        "--tls-ca",
        cluster_->CoordinatorPublicCaFile(),
        "--tls-server-name",
        "coordinator"};
    if (http) arguments.push_back("--http");
    auto [exit_code, output] = Mecai(arguments);
    EXPECT_EQ(exit_code, 0) << output;
    auto [verified, verify_output] =
        Mecai({"verify", "--vd", vd, "--host", LocalCluster::kTargetHost, "--cert",
               cluster_->ServerLeafFile(), "--va-list", cluster_->VaListFile()});
    EXPECT_EQ(verified, 0) << verify_output;
  }
  // Without a certificate the mutual-TLS listener is out of reach: a fault (exit 1), not a VD.
  auto [exit_code, output] =
      Mecai({"vouch", "--vs", absl::StrCat("127.0.0.1:", cluster_->coordinator_port()), "--host",
             LocalCluster::kTargetHost, "--port", absl::StrCat(cluster_->target_port()),
             "--trust-list", LocalCluster::kTrustList, "--cert", cluster_->ServerChainFile(),
             "--key", cluster_->ServerKeyFile(), "--out", cluster_->Path("never.vd"), "--tls-ca",
             cluster_->CoordinatorPublicCaFile(), "--tls-server-name", "coordinator"});
  EXPECT_EQ(exit_code, 1) << output;
}

// The stapler needs nothing but the Vouching Server's CA for the public endpoint: with a
// default_tls that names no certificate it presents none, and fetches and keeps a VD that verifies.
TEST_F(PublicEndpointClusterTest, AStaplerWithoutAClientCertificateFetchesItsVd) {
  v1::StaplerConfig config;
  config.set_va_list_file(cluster_->VaListFile());
  v1::StaplerVouchingServer* server = config.add_vouching_servers();
  server->set_va_id(LocalCluster::kVaId);
  *server->mutable_vouching_server() = cluster_->CoordinatorPublicPeer();
  config.set_hostname(LocalCluster::kTargetHost);
  config.set_port(static_cast<uint32_t>(cluster_->target_port()));
  config.set_trust_list(LocalCluster::kTrustList);
  config.set_certificate_file(cluster_->ServerChainFile());
  config.set_key_file(cluster_->ServerKeyFile());
  config.set_cache_directory(cluster_->Path("public-stapler-cache"));
  FakeClock clock(absl::Now());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<StaplerDaemon> daemon, BuildStaplerDaemon(config, clock));
  daemon->stapler->RunDueFetches();
  const Stapler::VaStatus status = daemon->stapler->status(LocalCluster::kVaId);
  EXPECT_TRUE(status.holds_vd) << status.last_error;
}

// A shell script can staple: curl POSTs the VR file and gets the response (or the bare VD).
TEST_F(PublicEndpointClusterTest, CurlIsAStapler) {
  auto probe = ChildProcess::Start({"curl", "--version"}, cluster_->Path("logs/curl-version.log"));
  if (!probe.ok() || !(*probe)->WaitForExit(absl::Seconds(10)) || (*probe)->ExitCode() != 0) {
    GTEST_SKIP() << "curl is not installed (scripts/bootstrap.sh installs it)";
  }
  const int port = cluster_->coordinator_public_http_port();
  for (const bool bare : {false, true}) {
    SCOPED_TRACE(bare ? "Accept: the VD alone" : "the VouchResponse");
    const std::string vr_file = cluster_->Path(bare ? "curl-bare.vr" : "curl.vr");
    const std::string out = cluster_->Path(bare ? "curl-bare.out" : "curl.out");
    const std::string headers = cluster_->Path(bare ? "curl-bare.headers" : "curl.headers");
    ASSERT_OK(WriteFileAtomically(vr_file, MakeRequest()));
    std::vector<std::string> argv = {"curl",
                                     "--silent",
                                     "--show-error",
                                     "--fail",
                                     "--max-time",
                                     "60",
                                     "--cacert",
                                     cluster_->CoordinatorPublicCaFile(),
                                     "--resolve",
                                     absl::StrCat("coordinator:", port, ":127.0.0.1"),
                                     "--header",
                                     absl::StrCat("Content-Type: ", kVouchingRequestMediaType),
                                     "--data-binary",
                                     "@" + vr_file,
                                     "--dump-header",
                                     headers,
                                     "--output",
                                     out,
                                     absl::StrCat("https://coordinator:", port, kPublicVouchPath)};
    if (bare) {
      argv.insert(argv.end() - 1, {"--header", absl::StrCat("Accept: ", kVouchingDataMediaType)});
    }
    const std::string log = cluster_->Path(bare ? "logs/curl-bare.log" : "logs/curl.log");
    auto curl = ChildProcess::Start(argv, log);
    ASSERT_TRUE(curl.ok()) << curl.status();
    ASSERT_TRUE((*curl)->WaitForExit(absl::Seconds(70)));
    ASSERT_EQ((*curl)->ExitCode(), 0) << ReadFile(log).value_or("");
    ASSERT_OK_AND_ASSIGN(std::string header_text, ReadFile(headers));
    EXPECT_THAT(header_text, HasSubstr("MECAI-Decision: issued"));
    ASSERT_OK_AND_ASSIGN(std::string body, ReadFile(out));
    v1::VouchResponse response;
    if (bare) {
      EXPECT_THAT(header_text, HasSubstr(absl::StrCat("Content-Type: ", kVouchingDataMediaType)));
      ASSERT_TRUE(response.mutable_vouching_data()->ParseFromString(body));
    } else {
      EXPECT_THAT(header_text,
                  HasSubstr(absl::StrCat("Content-Type: ", kVouchingResponseMediaType)));
      ASSERT_TRUE(response.ParseFromString(body));
    }
    ExpectVdVerifies(response, bare ? "curl-bare.vd" : "curl.vd");
  }
}

// 25 servers behind one name with one certificate, each with a VR of its own (own timestamp and
// nonce) within a minute: 25 VDs from at most a couple of probe rounds, not 10 VDs and 15
// RATE_LIMITED (the budget is 10 rounds an hour).
TEST_F(PublicEndpointClusterTest, TwentyFiveServersWithOneCertificateGetTwentyFiveVds) {
  constexpr int kServers = 25;
  constexpr int kClients = 4;
  std::vector<std::string> requests;
  for (int i = 0; i < kServers; ++i) requests.push_back(MakeRequest());
  const std::string before = CoordinatorMetrics();
  std::vector<absl::StatusOr<v1::VouchResponse>> responses(kServers,
                                                           absl::UnknownError("not sent"));
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      for (int i = client; i < kServers; i += kClients) {
        // Half the clients over gRPC, half over HTTPS.
        responses[i] =
            client % 2 == 0 ? VouchPublicGrpc(requests[i]) : VouchPublicHttp(requests[i]);
      }
    });
  }
  for (std::thread& client : clients) client.join();
  std::set<uint64_t> log_indices;
  for (int i = 0; i < kServers; ++i) {
    ASSERT_TRUE(responses[i].ok()) << i << ": " << responses[i].status();
    ASSERT_TRUE(responses[i]->has_vouching_data())
        << i << ": " << responses[i]->refusal().explanation();
    log_indices.insert(responses[i]->log_index());
  }
  ExpectVdVerifies(*responses.back(), "twenty-fifth.vd");
  const std::string after = CoordinatorMetrics();
  const double rounds = MetricSum(after, "mecai_coordinator_probe_rounds_total") -
                        MetricSum(before, "mecai_coordinator_probe_rounds_total");
  const double reused = MetricSum(after, "mecai_coordinator_decisions_reused_total") -
                        MetricSum(before, "mecai_coordinator_decisions_reused_total");
  EXPECT_LE(rounds, 2) << "probe rounds for 25 VRs of one certificate";
  EXPECT_GE(reused, kServers - 2);
  EXPECT_LE(log_indices.size(), 2u) << "the VDs name at most two decisions";
}

// A VR for another certificate of the same name is decided afresh: reuse is for the same
// certificates only.
TEST_F(PublicEndpointClusterTest, AnotherCertificateForTheSameNameGetsAProbeRoundOfItsOwn) {
  ASSERT_TRUE(VouchPublicGrpc(MakeRequest()).ok());  // A decision to reuse, if any.
  ASSERT_OK(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "other"));
  const std::string before = CoordinatorMetrics();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, VouchPublicGrpc(MakeRequest("other")));
  EXPECT_FALSE(response.reused_decision());
  ASSERT_TRUE(response.has_refusal());
  EXPECT_EQ(response.refusal().reason(), v1::CERTIFICATE_MISMATCH);
  EXPECT_THAT(response.perspectives(), SizeIs(3));
  const std::string after = CoordinatorMetrics();
  EXPECT_EQ(MetricSum(after, "mecai_coordinator_probe_rounds_total") -
                MetricSum(before, "mecai_coordinator_probe_rounds_total"),
            1);
}

// Trust rule 7: audit, trust-list administration and the rest stay on the mutual-TLS listener.
TEST_F(PublicEndpointClusterTest, NothingButVouchIsReachableOnThePublicListener) {
  std::shared_ptr<grpc::Channel> channel = Channel(cluster_->CoordinatorPublicPeer());
  {
    auto audit = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetRecordRequest request;
    request.set_log_index(0);
    v1::GetRecordResponse response;
    EXPECT_EQ(audit->GetRecord(&context, request, &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    auto audit = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ListShardsResponse response;
    EXPECT_EQ(audit->ListShards(&context, v1::ListShardsRequest(), &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    auto admin = v1::TrustListAdmin::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ListTrustListsResponse response;
    EXPECT_EQ(admin->ListTrustLists(&context, v1::ListTrustListsRequest(), &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  // Over HTTPS only the POST of a VR to the vouch path is served.
  const std::string ca = cluster_->CoordinatorPublicCaFile();
  const int port = cluster_->coordinator_public_http_port();
  for (const std::string& request :
       {std::string("GET /metrics HTTP/1.1\r\nHost: coordinator\r\n\r\n"),
        std::string("POST /mecai.v1.AuditService/ListShards HTTP/1.1\r\nHost: coordinator\r\n"
                    "Content-Type: application/grpc\r\nContent-Length: 0\r\n\r\n"),
        std::string("POST /mecai.v1.TrustListAdmin/SubmitTrustListChange HTTP/1.1\r\nHost: "
                    "coordinator\r\nContent-Length: 0\r\n\r\n")}) {
    ASSERT_OK_AND_ASSIGN(std::string response, TlsExchange(ca, "coordinator", port, request));
    EXPECT_THAT(response, StartsWith("HTTP/1.1 404 ")) << request;
  }
  ASSERT_OK_AND_ASSIGN(std::string get_vouch,
                       TlsExchange(ca, "coordinator", port,
                                   absl::StrCat("GET ", kPublicVouchPath,
                                                " HTTP/1.1\r\nHost: coordinator\r\n\r\n")));
  EXPECT_THAT(get_vouch, StartsWith("HTTP/1.1 405 "));
}

// A bounded load of bad input on the public endpoint (garbage, oversized bodies and messages,
// unsigned and wrongly signed VRs, misshapen HTTP, slow-loris clients trickling bytes, handshakes
// never begun): every one refused and counted by reason, no record written, and the mutual-TLS
// listener answers normal VRs during and after.
TEST_F(PublicEndpointClusterTest, BadInputIsRefusedCountedAndChangesNothing) {
  const std::string before = CoordinatorMetrics();
  const std::string ca = cluster_->CoordinatorPublicCaFile();
  const int http_port = cluster_->coordinator_public_http_port();

  // Slow-loris clients, for the whole test: a byte every 100 ms, never a whole request.
  constexpr int kSlowClients = 4;
  std::vector<std::string> slow_responses(kSlowClients);
  std::vector<std::thread> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    slow.emplace_back([&, i] {
      auto client = TlsTestClient::Connect(ca, "coordinator", http_port);
      if (!client.ok()) return;
      const std::string request = absl::StrCat(
          "POST ", kPublicVouchPath,
          " HTTP/1.1\r\nHost: coordinator\r\nX-Padding: ", std::string(1000, 'x'), "\r\n\r\n");
      // Bounded: the whole request would take 100 s; the cut-off comes after 2 s.
      for (size_t sent = 0; sent < request.size() && !(*client)->Readable(absl::Milliseconds(100));
           ++sent) {
        if (!(*client)->Write(request.substr(sent, 1))) break;
      }
      slow_responses[i] = (*client)->ReadAll();
    });
  }
  // Connections that never begin their TLS handshake.
  std::vector<int> silent;
  for (int i = 0; i < 2; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(http_port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    silent.push_back(fd);
  }

  // Meanwhile the mutual-TLS listener serves a normal VR.
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse during, VouchInternal(MakeRequest()));
  EXPECT_TRUE(during.has_vouching_data()) << during.refusal().explanation();
  const uint64_t size_before = TreeSize();

  // Garbage bytes, both bindings: refused MALFORMED_REQUEST as data.
  for (int i = 0; i < 5; ++i) {
    const std::string garbage = absl::StrCat("\xff\xfe not a VouchingRequest ", i);
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse over_grpc, VouchPublicGrpc(garbage));
    EXPECT_EQ(over_grpc.refusal().reason(), v1::MALFORMED_REQUEST);
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse over_http, VouchPublicHttp(garbage));
    EXPECT_EQ(over_http.refusal().reason(), v1::MALFORMED_REQUEST);
  }
  // Oversized: a body over max_request_bytes (64 KiB) is 413 before it is read; a message over it
  // is RESOURCE_EXHAUSTED before the VR is parsed; one far over it gRPC refuses itself.
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(VouchPublicHttp(std::string(200 << 10, 'x')),
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("HTTP 413")));
    EXPECT_THAT(VouchPublicGrpc(std::string((64 << 10) + 1, 'x')),
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("at most 65536")));
  }
  EXPECT_THAT(VouchPublicGrpc(std::string(2 << 20, 'x')),
              StatusIs(absl::StatusCode::kResourceExhausted, testing::_));
  // Unsigned and wrongly signed VRs: BAD_SIGNATURE as data.
  for (int i = 0; i < 3; ++i) {
    v1::VouchingRequest unsigned_request;
    ASSERT_TRUE(unsigned_request.ParseFromString(MakeRequest()));
    unsigned_request.mutable_single()->clear_signature();
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse unsigned_response,
                         VouchPublicHttp(unsigned_request.SerializeAsString()));
    EXPECT_EQ(unsigned_response.refusal().reason(), v1::BAD_SIGNATURE);
    v1::VouchingRequest tampered;
    ASSERT_TRUE(tampered.ParseFromString(MakeRequest()));
    std::string* signature = tampered.mutable_single()->mutable_signature()->mutable_value();
    (*signature)[signature->size() / 2] ^= 0x01;
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse tampered_response,
                         VouchPublicGrpc(tampered.SerializeAsString()));
    EXPECT_EQ(tampered_response.refusal().reason(), v1::BAD_SIGNATURE);
  }
  // Misshapen HTTP: another method, another media type.
  ASSERT_OK_AND_ASSIGN(std::string wrong_type,
                       TlsExchange(ca, "coordinator", http_port,
                                   absl::StrCat("POST ", kPublicVouchPath,
                                                " HTTP/1.1\r\nHost: coordinator\r\nContent-Type: "
                                                "text/plain\r\nContent-Length: 4\r\n\r\nabcd")));
  EXPECT_THAT(wrong_type, StartsWith("HTTP/1.1 415 "));

  for (std::thread& thread : slow) thread.join();
  for (const std::string& response : slow_responses) {
    EXPECT_THAT(response, StartsWith("HTTP/1.1 408 Request Timeout\r\n"));
  }
  for (int fd : silent) {
    char byte;
    timeval timeout = {15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    EXPECT_LE(recv(fd, &byte, 1, 0), 0) << "a silent connection is closed";
    close(fd);
  }

  // Nothing was recorded, and both listeners still serve.
  EXPECT_EQ(TreeSize(), size_before);
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse after_internal, VouchInternal(MakeRequest()));
  EXPECT_TRUE(after_internal.has_vouching_data()) << after_internal.refusal().explanation();
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse after_public, VouchPublicHttp(MakeRequest()));
  EXPECT_TRUE(after_public.has_vouching_data()) << after_public.refusal().explanation();

  // Each refusal counted by binding and reason.
  const std::string after = CoordinatorMetrics();
  auto delta = [&](const std::string& binding, const std::string& reason) {
    const std::vector<std::string> labels = {absl::StrCat("binding=\"", binding, "\""),
                                             absl::StrCat("reason=\"", reason, "\"")};
    return MetricSum(after, "mecai_coordinator_public_refusals_total", labels) -
           MetricSum(before, "mecai_coordinator_public_refusals_total", labels);
  };
  EXPECT_EQ(delta("grpc", "malformed"), 5);
  EXPECT_EQ(delta("http", "malformed"), 5 + 1);
  EXPECT_EQ(delta("http", "too_large"), 3);
  EXPECT_EQ(delta("grpc", "too_large"), 3);
  EXPECT_EQ(delta("http", "bad_signature"), 3);
  EXPECT_EQ(delta("grpc", "bad_signature"), 3);
  EXPECT_EQ(delta("http", "request_timeout"), kSlowClients);
  EXPECT_GE(delta("http", "tls_handshake"), 2);
  // The metrics pass promtool, the public endpoint's among them.
  const std::string metrics_file = cluster_->Path("metrics-coordinator-public.txt");
  ASSERT_OK(WriteFileAtomically(metrics_file, after.substr(after.find("\r\n\r\n") + 4)));
  auto check =
      ChildProcess::Start({"sh", "-c",
                           absl::StrCat("promtool check metrics < ", metrics_file, " > ",
                                        cluster_->Path("logs/promtool-public.log"), " 2>&1")},
                          "");
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*check)->ExitCode(), 0)
      << ReadFile(cluster_->Path("logs/promtool-public.log")).value_or("");
}

// M5 (docs/SECURITY.md): a name's probe budget (10 rounds an hour) is spent only by VRs that passed
// their signature, chain and revocation checks. 15 VRs with a self-signed certificate for the name
// and 5 with a bad signature, from anyone, over either listener, do not make its real server's VR
// RATE_LIMITED. A cluster of its own: the name's budget is untouched when the test begins.
class HostnameBlockingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster("blocking", PublicEndpointClusterOptions()));
    // A self-signed certificate for the target's name, which anyone can make.
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcKey());
    CertificateSpec spec;
    spec.common_name = LocalCluster::kTargetHost;
    spec.dns_names = {LocalCluster::kTargetHost};
    spec.extended_key_usages = {"serverAuth"};
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    ASSERT_OK_AND_ASSIGN(X509Ptr certificate,
                         IssueCertificate(spec, key.get(), nullptr, key.get()));
    ASSERT_OK(WriteFileAtomically(cluster_->Path("pki/self-signed.pem"),
                                  CertificateToPem(certificate.get())));
    ASSERT_OK(WriteFileAtomically(cluster_->Path("pki/self-signed.key"), PrivateKeyToPem(key.get()),
                                  0600));
  }

  std::string Request(const std::string& name) {
    auto request = SignedRequestFromFiles(
        cluster_->Path("pki/" + name + ".pem"), cluster_->Path("pki/" + name + ".key"),
        LocalCluster::kTargetHost, static_cast<uint32_t>(cluster_->target_port()),
        LocalCluster::kTrustList, absl::Now());
    EXPECT_TRUE(request.ok()) << request.status();
    return request.value_or("");
  }

  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(HostnameBlockingTest, FifteenSelfSignedVrsDoNotBlockTheRealServer) {
  auto internal = MakeChannel(cluster_->CoordinatorPeer());
  ASSERT_TRUE(internal.ok());
  auto public_channel = MakeChannel(cluster_->CoordinatorPublicPeer());
  ASSERT_TRUE(public_channel.ok());
  for (int i = 0; i < 15; ++i) {
    // Over the mutual-TLS listener too: the rule is the coordinator's, not the endpoint's.
    grpc::Channel& channel = i % 2 == 0 ? **internal : **public_channel;
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, CallVouch(channel, Request("self-signed")));
    ASSERT_EQ(response.refusal().reason(), v1::UNTRUSTED_CHAIN) << "VR " << i;
  }
  for (int i = 0; i < 5; ++i) {
    v1::VouchingRequest tampered;
    ASSERT_TRUE(tampered.ParseFromString(Request("server")));
    std::string* signature = tampered.mutable_single()->mutable_signature()->mutable_value();
    (*signature)[signature->size() / 2] ^= 0x01;
    ASSERT_OK_AND_ASSIGN(v1::VouchResponse response,
                         CallVouch(**public_channel, tampered.SerializeAsString()));
    ASSERT_EQ(response.refusal().reason(), v1::BAD_SIGNATURE) << "VR " << i;
  }
  // The real server's VR is probed and issued.
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse real, CallVouch(**public_channel, Request("server")));
  ASSERT_TRUE(real.has_vouching_data())
      << v1::RefusalReason_Name(real.refusal().reason()) << ": " << real.refusal().explanation();
  EXPECT_FALSE(real.served_from_record());
  EXPECT_THAT(real.perspectives(), SizeIs(3));
}

}  // namespace
}  // namespace mecai
