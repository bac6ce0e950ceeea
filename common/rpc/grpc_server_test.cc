// Tests of StartServer's plaintext health-only port (ListenConfig.health_address): Kubernetes gRPC
// probes get grpc.health.v1.Health there, and nothing else, while the application services stay
// behind mutual TLS (trust rule 7). And of StartServerAuthenticatedServer, the public endpoint's
// server: no client certificate, only its own services, messages over the limit refused, silent
// connections closed.
#include "common/rpc/grpc_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/mtls_files.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr char kListShardsMethod[] = "/mecai.v1.AuditService/ListShards";
constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
// grpc.health.v1.HealthCheckRequest{service: ""} is the empty message; a HealthCheckResponse is
// field 1 (status, varint): 1 SERVING, 2 NOT_SERVING (grpc/health/v1/health.proto).
constexpr char kServingResponse[] = "\x08\x01";
constexpr char kNotServingResponse[] = "\x08\x02";

// AuditService whose ListShards names one shard; when `hold` is set, ListShards first signals
// `entered` and then waits for `release`. Thread-safe.
class TestAuditService final : public v1::AuditService::Service {
 public:
  grpc::Status ListShards(grpc::ServerContext* /*context*/,
                          const v1::ListShardsRequest* /*request*/,
                          v1::ListShardsResponse* response) override {
    if (hold) {
      entered.Notify();
      release.WaitForNotification();
    }
    response->add_shards()->set_log_shard_id("test-shard");
    return grpc::Status::OK;
  }

  bool hold = false;
  absl::Notification entered;
  absl::Notification release;
};

std::string LocalAddress(int port) { return "127.0.0.1:" + std::to_string(port); }

std::shared_ptr<grpc::Channel> PlaintextChannel(int port) {
  return grpc::CreateChannel(LocalAddress(port), grpc::InsecureChannelCredentials());
}

// One unary call of `method` with the serialized `request` through gRPC's generic client (grpc++
// ships no health client); on success `*response` holds the serialized answer.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& request, std::string* response) {
  grpc::GenericStub generic_client(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice request_slice(request);
  grpc::ByteBuffer request_buffer(&request_slice, 1);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  generic_client.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer, &response_buffer,
                           [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    if (!response_buffer.Dump(&slices).ok())
      return grpc::Status(grpc::StatusCode::INTERNAL, "dump");
    response->clear();
    for (const grpc::Slice& slice : slices) {
      response->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return status;
}

grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel, std::string* response) {
  return RawUnaryCall(channel, kHealthCheckMethod, "", response);
}

class GrpcServerHealthPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A private CA, a server identity "server" and a client identity "client", as PEM files.
    ASSERT_OK_AND_ASSIGN(const std::string directory, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(files_,
                         WriteMutualTlsFiles(directory, "grpc_server_test CA", "server", "client"));
    listen_.set_address("127.0.0.1:0");
    listen_.set_health_address("127.0.0.1:0");
    listen_.mutable_tls()->set_certificate_file(files_.server_certificate);
    listen_.mutable_tls()->set_private_key_file(files_.server_key);
    listen_.mutable_tls()->set_client_ca_file(files_.ca);
    listen_.mutable_tls()->add_allowed_client_identities("client");
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<RunningServer>> server = StartServer(listen_, {&service_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_NE(server_->health_port(), 0);
    ASSERT_NE(server_->health_port(), server_->port());
  }

  // An AuditService client presenting the "client" identity over mutual TLS.
  std::unique_ptr<v1::AuditService::Stub> MutualTlsClient() {
    v1::PeerConfig peer;
    peer.set_address(LocalAddress(server_->port()));
    peer.mutable_tls()->set_certificate_file(files_.client_certificate);
    peer.mutable_tls()->set_private_key_file(files_.client_key);
    peer.mutable_tls()->set_server_ca_file(files_.ca);
    peer.mutable_tls()->set_server_identity("server");
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? v1::AuditService::NewStub(*channel) : nullptr;
  }

  MutualTlsFiles files_;
  v1::ListenConfig listen_;
  TestAuditService service_;
  std::unique_ptr<RunningServer> server_;
};

TEST_F(GrpcServerHealthPortTest, PlaintextHealthPortAnswersServing) {
  Start();
  std::string response;
  grpc::Status status = HealthCheck(PlaintextChannel(server_->health_port()), &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(response, kServingResponse);
}

TEST_F(GrpcServerHealthPortTest, ApplicationServiceIsOnlyOnTheMutualTlsPort) {
  Start();
  auto client = MutualTlsClient();
  ASSERT_NE(client, nullptr);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListShardsResponse shards;
  grpc::Status status = client->ListShards(&context, v1::ListShardsRequest(), &shards);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  ASSERT_EQ(shards.shards_size(), 1);
  EXPECT_EQ(shards.shards(0).log_shard_id(), "test-shard");

  std::string response;
  status = RawUnaryCall(PlaintextChannel(server_->health_port()), kListShardsMethod, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  // Server reflection, which the main server offers, is not on the health port either.
  status = RawUnaryCall(PlaintextChannel(server_->health_port()), kReflectionMethod, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  // And the main port does not speak plaintext.
  status = RawUnaryCall(PlaintextChannel(server_->port()), kListShardsMethod, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GrpcServerHealthPortTest, ServingStatusIsMirrored) {
  Start();
  std::shared_ptr<grpc::Channel> channel = PlaintextChannel(server_->health_port());
  std::string response;
  server_->SetServingStatus(false);
  grpc::Status status = HealthCheck(channel, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, kNotServingResponse);
  server_->SetServingStatus(true);
  status = HealthCheck(channel, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, kServingResponse);
}

TEST_F(GrpcServerHealthPortTest, ShutdownReportsNotServingWhileDrainingThenStopsTheHealthPort) {
  service_.hold = true;
  Start();
  auto client = MutualTlsClient();
  ASSERT_NE(client, nullptr);
  grpc::Status held_status;
  std::thread held_call([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListShardsResponse shards;
    held_status = client->ListShards(&context, v1::ListShardsRequest(), &shards);
  });
  service_.entered.WaitForNotification();
  std::shared_ptr<grpc::Channel> channel = PlaintextChannel(server_->health_port());
  std::string response;
  ASSERT_TRUE(HealthCheck(channel, &response).ok());
  ASSERT_EQ(response, kServingResponse);

  // Shutdown waits for the held call; meanwhile the health port answers NOT_SERVING.
  std::thread shutdown([&] { server_->Shutdown(); });
  bool saw_not_serving = false;
  for (int attempt = 0; attempt < 100 && !saw_not_serving; ++attempt) {
    grpc::Status status = HealthCheck(channel, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    saw_not_serving = response == kNotServingResponse;
    if (!saw_not_serving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(saw_not_serving);
  // A status set during shutdown does not revive it.
  server_->SetServingStatus(true);
  ASSERT_TRUE(HealthCheck(channel, &response).ok());
  EXPECT_EQ(response, kNotServingResponse);

  service_.release.Notify();
  held_call.join();
  shutdown.join();
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();

  grpc::Status status = HealthCheck(PlaintextChannel(server_->health_port()), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GrpcServerHealthPortTest, HealthAddressInUseIsAnError) {
  Start();
  listen_.set_health_address(LocalAddress(server_->health_port()));
  absl::StatusOr<std::unique_ptr<RunningServer>> second = StartServer(listen_, {});
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("health_address")));
}

TEST(ValidateListenConfigTest, HealthAddress) {
  v1::ListenConfig listen;
  listen.set_address("0.0.0.0:8443");
  listen.set_insecure_plaintext_for_local_development(true);
  listen.set_metrics_address("0.0.0.0:9090");
  auto validate = [&listen] {
    ConfigErrors errors("test");
    ValidateListenConfig(listen, /*plaintext_allowed=*/true, "listen", &errors);
    return errors.ToStatus();
  };
  listen.set_health_address("0.0.0.0:8081");
  EXPECT_TRUE(validate().ok()) << validate();
  listen.set_health_address("0.0.0.0:0");
  EXPECT_TRUE(validate().ok()) << validate();
  listen.set_health_address("8081");
  EXPECT_THAT(validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("listen.health_address: must be host:port")));
  listen.set_health_address("0.0.0.0:8443");
  EXPECT_THAT(validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("listen.health_address: must differ from listen.address")));
  listen.set_health_address("0.0.0.0:9090");
  EXPECT_THAT(validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("must differ from listen.metrics_address")));
}

class ServerAuthenticatedServerTest : public GrpcServerHealthPortTest {
 protected:
  void StartPublic(int max_receive_message_bytes = 1 << 20) {
    ServerAuthenticatedOptions options;
    options.address = "127.0.0.1:0";
    options.certificate_file = files_.server_certificate;
    options.private_key_file = files_.server_key;
    options.max_receive_message_bytes = max_receive_message_bytes;
    options.handshake_timeout = absl::Seconds(1);
    ASSERT_OK_AND_ASSIGN(server_, StartServerAuthenticatedServer(options, {&service_}));
  }

  // A channel to `port` that verifies the server and presents no certificate.
  std::shared_ptr<grpc::Channel> ClientWithoutCertificate(int port) {
    v1::PeerConfig peer;
    peer.set_address(LocalAddress(port));
    peer.mutable_tls()->set_server_ca_file(files_.ca);
    peer.mutable_tls()->set_server_identity("server");
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.value_or(nullptr);
  }
};

TEST_F(ServerAuthenticatedServerTest, AClientWithoutACertificateIsServedOnlyItsServices) {
  StartPublic();
  std::shared_ptr<grpc::Channel> channel = ClientWithoutCertificate(server_->port());
  ASSERT_NE(channel, nullptr);
  std::string response;
  grpc::Status status = RawUnaryCall(channel, kListShardsMethod, "", &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  // No server reflection.
  status = RawUnaryCall(channel, kReflectionMethod, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
}

// The same client against the mutual-TLS server is refused: MakeChannel without a certificate
// opens only what asks for none.
TEST_F(ServerAuthenticatedServerTest, TheMutualTlsServerStillRefusesAClientWithoutACertificate) {
  Start();
  std::string response;
  grpc::Status status =
      RawUnaryCall(ClientWithoutCertificate(server_->port()), kListShardsMethod, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ServerAuthenticatedServerTest, AMessageOverTheLimitIsRefusedAndTheServerGoesOn) {
  StartPublic(/*max_receive_message_bytes=*/64);
  std::shared_ptr<grpc::Channel> channel = ClientWithoutCertificate(server_->port());
  std::string response;
  grpc::Status status = RawUnaryCall(channel, kListShardsMethod, std::string(65, 'x'), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  status = RawUnaryCall(channel, kListShardsMethod, "", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ServerAuthenticatedServerTest, AConnectionThatNeverHandshakesIsClosed) {
  StartPublic();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  // The 1 s handshake timeout plus a margin for a loaded machine.
  pollfd entry = {fd, POLLIN, 0};
  ASSERT_EQ(poll(&entry, 1, 15000), 1) << "not closed within 15 s";
  char byte;
  EXPECT_LE(recv(fd, &byte, 1, 0), 0);
  close(fd);
}

}  // namespace
}  // namespace mecai
