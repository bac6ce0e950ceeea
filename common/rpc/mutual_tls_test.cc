// The mutual TLS of every internal server and channel (trust rule 7; common/rpc/tls_credentials.h):
// identities and CA bundles reload from disk without a restart, while connections already open
// keep working; the client allowlist and the server identity are still checked; bad files stop
// the process at start with a typed error; and one channel whose target names two replicas
// spreads its calls over both (common/rpc/grpc_channel.h).
#include <openssl/bn.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "common/testing/mtls_files.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

// How often the test servers and channels look at their files.
constexpr uint32_t kReloadSeconds = 1;

std::string LocalAddress(int port) { return absl::StrCat("127.0.0.1:", port); }

// AuditService whose ListShards answers with the shard id it was given, and counts its calls.
// Thread-safe.
class CountingAuditService final : public v1::AuditService::Service {
 public:
  explicit CountingAuditService(std::string shard) : shard_(std::move(shard)) {}
  grpc::Status ListShards(grpc::ServerContext* /*context*/,
                          const v1::ListShardsRequest* /*request*/,
                          v1::ListShardsResponse* response) override {
    ++calls;
    response->add_shards()->set_log_shard_id(shard_);
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};

 private:
  const std::string shard_;
};

// What one ListShards call saw: its status, and the serial number (hex) of the certificate the
// server presented on the connection that carried it.
struct CallResult {
  grpc::Status status;
  std::string server_serial;
  std::string shard;
};

CallResult ListShards(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListShardsResponse response;
  CallResult result;
  result.status = stub->ListShards(&context, v1::ListShardsRequest(), &response);
  if (response.shards_size() > 0) result.shard = response.shards(0).log_shard_id();
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return result;
  for (const auto& pem : auth->FindPropertyValues("x509_pem_cert")) {
    auto certificates = ParsePemCertificates(std::string(pem.data(), pem.size()));
    if (!certificates.ok() || certificates->empty()) continue;
    BignumPtr serial(
        ASN1_INTEGER_to_BN(X509_get_serialNumber(certificates->front().get()), nullptr));
    char* hex = BN_bn2hex(serial.get());
    result.server_serial = hex;
    OPENSSL_free(hex);
  }
  return result;
}

// The serial number of the first certificate in `pem_file`, hex, as ListShards reports it.
std::string SerialOf(const std::string& pem_file) {
  auto certificates = LoadPemCertificates(pem_file);
  if (!certificates.ok() || certificates->empty()) return "";
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get_serialNumber(certificates->front().get()), nullptr));
  char* hex = BN_bn2hex(serial.get());
  std::string text = hex;
  OPENSSL_free(hex);
  return text;
}

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(files_,
                         WriteMutualTlsFiles(directory_, "mutual_tls_test CA", "server", "client"));
    // The files the server and the client read: copies, so that a test can replace them.
    server_ca_ = directory_ + "/server-trusts.pem";
    client_ca_ = directory_ + "/client-trusts.pem";
    ASSERT_OK(WriteFileAtomically(server_ca_, ReadFile(files_.ca).value_or("")));
    ASSERT_OK(WriteFileAtomically(client_ca_, ReadFile(files_.ca).value_or("")));
  }

  v1::ListenConfig Listen(const std::string& address = "127.0.0.1:0") const {
    v1::ListenConfig listen;
    listen.set_address(address);
    listen.mutable_tls()->set_certificate_file(files_.server_certificate);
    listen.mutable_tls()->set_private_key_file(files_.server_key);
    listen.mutable_tls()->set_client_ca_file(server_ca_);
    listen.mutable_tls()->add_allowed_client_identities("client");
    listen.mutable_tls()->set_reload_interval_seconds(kReloadSeconds);
    return listen;
  }

  v1::PeerConfig Peer(const std::string& address) const {
    v1::PeerConfig peer;
    peer.set_address(address);
    peer.mutable_tls()->set_certificate_file(files_.client_certificate);
    peer.mutable_tls()->set_private_key_file(files_.client_key);
    peer.mutable_tls()->set_server_ca_file(client_ca_);
    peer.mutable_tls()->set_server_identity("server");
    peer.mutable_tls()->set_reload_interval_seconds(kReloadSeconds);
    return peer;
  }

  std::shared_ptr<grpc::Channel> Channel(const v1::PeerConfig& peer) {
    auto channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  // Calls through a fresh channel (a new connection, a new handshake) every 200 ms until the
  // server presents `serial`, for at most 15 s (the reload interval is 1 s). The last result.
  CallResult AwaitNewConnectionsPresent(const v1::PeerConfig& peer, const std::string& serial) {
    CallResult result;
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      result = ListShards(Channel(peer));
      if (result.status.ok() && result.server_serial == serial) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return result;
  }

  std::string directory_;
  MutualTlsFiles files_;
  std::string server_ca_;
  std::string client_ca_;
};

TEST_F(MutualTlsTest, ARotatedServerIdentityServesNewConnectionsWhileOpenOnesKeepWorking) {
  CountingAuditService service("shard");
  ASSERT_OK_AND_ASSIGN(auto server, StartServer(Listen(), {&service}));
  const v1::PeerConfig peer = Peer(LocalAddress(server->port()));
  const std::string old_serial = SerialOf(files_.server_certificate);
  std::shared_ptr<grpc::Channel> old_client = Channel(peer);
  CallResult before = ListShards(old_client);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  EXPECT_EQ(before.server_serial, old_serial);

  // A new key and certificate for the same identity, from the same CA, written over the files.
  ASSERT_OK(ReissueIdentity(files_, directory_, "server", "serverAuth"));
  const std::string new_serial = SerialOf(files_.server_certificate);
  ASSERT_NE(new_serial, old_serial);

  CallResult fresh = AwaitNewConnectionsPresent(peer, new_serial);
  ASSERT_TRUE(fresh.status.ok()) << fresh.status.error_message();
  EXPECT_EQ(fresh.server_serial, new_serial) << "no restart, yet the new certificate";
  // The client made before the rotation still calls, over the connection it had.
  CallResult after = ListShards(old_client);
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.server_serial, old_serial);
}

TEST_F(MutualTlsTest, ACaIsRotatedByBundleOverlap) {
  CountingAuditService service("shard");
  ASSERT_OK_AND_ASSIGN(auto server, StartServer(Listen(), {&service}));
  const v1::PeerConfig peer = Peer(LocalAddress(server->port()));
  std::shared_ptr<grpc::Channel> old_client = Channel(peer);
  ASSERT_TRUE(ListShards(old_client).status.ok());

  // A new CA with its own server and client identities, in a directory of its own.
  ASSERT_OK_AND_ASSIGN(std::string made, test_pki::MakeTempDirectory());
  ASSERT_OK_AND_ASSIGN(MutualTlsFiles next,
                       WriteMutualTlsFiles(made, "mutual_tls_test CA 2", "server", "client"));
  // Step 1: both sides trust both CAs.
  const std::string both = ReadFile(files_.ca).value_or("") + ReadFile(next.ca).value_or("");
  ASSERT_OK(WriteFileAtomically(server_ca_, both));
  ASSERT_OK(WriteFileAtomically(client_ca_, both));
  // Step 2: the server moves to its identity from the new CA.
  ASSERT_OK(WriteFileAtomically(files_.server_key, ReadFile(next.server_key).value_or(""), 0600));
  ASSERT_OK(WriteFileAtomically(files_.server_certificate,
                                ReadFile(next.server_certificate).value_or("")));
  const std::string new_serial = SerialOf(next.server_certificate);
  CallResult fresh = AwaitNewConnectionsPresent(peer, new_serial);
  ASSERT_TRUE(fresh.status.ok()) << fresh.status.error_message();
  EXPECT_EQ(fresh.server_serial, new_serial);
  // A client that trusts only the old CA cannot verify the new identity: the new CA is in use.
  v1::PeerConfig old_ca_only = peer;
  old_ca_only.mutable_tls()->set_server_ca_file(files_.ca);
  EXPECT_EQ(ListShards(Channel(old_ca_only)).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Clients with identities from either CA are accepted meanwhile, and the open connection
  // keeps working.
  v1::PeerConfig new_client = peer;
  new_client.mutable_tls()->set_certificate_file(next.client_certificate);
  new_client.mutable_tls()->set_private_key_file(next.client_key);
  EXPECT_TRUE(ListShards(Channel(new_client)).status.ok());
  EXPECT_TRUE(ListShards(Channel(peer)).status.ok());
  EXPECT_TRUE(ListShards(old_client).status.ok());
}

TEST_F(MutualTlsTest, TheClientAllowlistAndTheServerIdentityAreStillChecked) {
  CountingAuditService service("shard");
  v1::ListenConfig listen = Listen();
  listen.mutable_tls()->set_allowed_client_identities(0, "someone-else");
  ASSERT_OK_AND_ASSIGN(auto server, StartServer(listen, {&service}));
  CallResult refused = ListShards(Channel(Peer(LocalAddress(server->port()))));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(service.calls.load(), 0);

  ASSERT_OK_AND_ASSIGN(auto listed, StartServer(Listen(), {&service}));
  v1::PeerConfig wrong_name = Peer(LocalAddress(listed->port()));
  wrong_name.mutable_tls()->set_server_identity("not-the-server");
  EXPECT_EQ(ListShards(Channel(wrong_name)).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service.calls.load(), 0);
}

TEST_F(MutualTlsTest, BadFilesAreConfigurationErrorsAtStart) {
  CountingAuditService service("shard");
  v1::ListenConfig missing = Listen();
  missing.mutable_tls()->set_private_key_file(directory_ + "/no-such.key");
  EXPECT_THAT(StartServer(missing, {&service}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no-such.key")));
  v1::ListenConfig mismatched = Listen();
  mismatched.mutable_tls()->set_private_key_file(files_.client_key);
  EXPECT_THAT(StartServer(mismatched, {&service}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is not the key of tls.certificate_file")));
  v1::PeerConfig garbage = Peer("127.0.0.1:1");
  ASSERT_OK(WriteFileAtomically(directory_ + "/garbage.pem", "not PEM\n"));
  garbage.mutable_tls()->set_server_ca_file(directory_ + "/garbage.pem");
  EXPECT_THAT(MakeChannel(garbage),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls.server_ca_file")));
}

TEST(ChannelTargetTest, AcceptsHostPortDnsAndAddressLists) {
  EXPECT_TRUE(IsValidChannelTarget("signer.mecai.svc.cluster.local:8443"));
  EXPECT_TRUE(IsValidChannelTarget("dns:///probe-agent-headless.mecai.svc.cluster.local:8443"));
  EXPECT_TRUE(IsValidChannelTarget("ipv4:127.0.0.1:1,127.0.0.2:2"));
  EXPECT_TRUE(IsValidChannelTarget("ipv6:[::1]:443"));
  EXPECT_FALSE(IsValidChannelTarget("dns:///no-port"));
  EXPECT_FALSE(IsValidChannelTarget("ipv4:127.0.0.1:1,"));
  EXPECT_FALSE(IsValidChannelTarget("signer"));
  ASSERT_OK_AND_ASSIGN(auto host_ports, ChannelTargetHostPorts("ipv4:127.0.0.1:1,127.0.0.2:2"));
  EXPECT_EQ(host_ports, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.2:2"}));
}

// Two replicas behind one target, as a headless Service's name resolves to its pods' addresses:
// round robin sends calls to both over one channel.
TEST_F(MutualTlsTest, OneChannelSpreadsCallsOverTwoReplicas) {
  CountingAuditService first("first");
  CountingAuditService second("second");
  ASSERT_OK_AND_ASSIGN(auto first_server, StartServer(Listen("127.0.0.1:0"), {&first}));
  ASSERT_OK_AND_ASSIGN(auto second_server, StartServer(Listen("127.0.0.2:0"), {&second}));
  const std::string target =
      absl::StrCat("ipv4:127.0.0.1:", first_server->port(), ",127.0.0.2:", second_server->port());
  std::shared_ptr<grpc::Channel> channel = Channel(Peer(target));
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  // Round robin starts once both subchannels are up; calls before that all go to the first.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int calls = 0;
  while (absl::Now() < deadline && calls < 200 && (first.calls == 0 || second.calls == 0)) {
    ASSERT_TRUE(ListShards(channel).status.ok());
    ++calls;
  }
  EXPECT_GT(first.calls.load(), 0);
  EXPECT_GT(second.calls.load(), 0);
  // Steady state: of 20 more calls, each replica gets its share.
  const int first_before = first.calls;
  const int second_before = second.calls;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(ListShards(channel).status.ok());
  EXPECT_GE(first.calls - first_before, 5);
  EXPECT_GE(second.calls - second_before, 5);
}

}  // namespace
}  // namespace mecai
