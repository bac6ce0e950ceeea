#include "coordinator/trust_list_relay.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/signer.grpc.pb.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// A signer replica's ApplyTrustListChange: records what it got and answers `answer`.
class RecordingSigner final : public v1::SignerService::Service {
 public:
  explicit RecordingSigner(grpc::StatusCode answer = grpc::StatusCode::OK) : answer_(answer) {}

  grpc::Status ApplyTrustListChange(grpc::ServerContext* /*context*/,
                                    const v1::ApplyTrustListChangeRequest* request,
                                    v1::ApplyTrustListChangeResponse* /*response*/) override {
    absl::MutexLock lock(&mutex_);
    received_.push_back(request->signed_change().tbs());
    if (answer_ == grpc::StatusCode::OK) return grpc::Status::OK;
    return grpc::Status(answer_, "refused by this replica");
  }

  std::vector<std::string> received() {
    absl::MutexLock lock(&mutex_);
    return received_;
  }

 private:
  const grpc::StatusCode answer_;
  absl::Mutex mutex_;
  std::vector<std::string> received_ ABSL_GUARDED_BY(mutex_);
};

// A replica served on `host` (a loopback address) on a free port.
struct Replica {
  std::unique_ptr<RecordingSigner> service;
  std::unique_ptr<RunningServer> server;
  std::string address;
};

Replica Serve(const std::string& host, grpc::StatusCode answer = grpc::StatusCode::OK) {
  Replica replica;
  replica.service = std::make_unique<RecordingSigner>(answer);
  v1::ListenConfig listen;
  listen.set_address(absl::StrCat(host, ":0"));
  listen.set_insecure_plaintext_for_local_development(true);
  auto server = StartServer(listen, {replica.service.get()});
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return replica;
  replica.address = absl::StrCat(host, ":", (*server)->port());
  replica.server = std::move(*server);
  return replica;
}

v1::PeerConfig Signer(const std::string& address) {
  v1::PeerConfig peer;
  peer.set_address(address);
  peer.set_insecure_plaintext_for_local_development(true);
  return peer;
}

v1::SignedTrustListChange Change(const std::string& tbs) {
  v1::SignedTrustListChange change;
  change.set_tbs(tbs);
  return change;
}

TEST(TrustListRelayTest, EveryListedReplicaGetsTheChange) {
  Replica first = Serve("127.0.0.1");
  Replica second = Serve("127.0.0.2");
  // Signing calls land on the first replica; the change must reach both.
  TrustListRelay relay(Signer(first.address), {first.address, second.address}, absl::Seconds(10));
  ASSERT_TRUE(relay.Send(Change("remove root R")).ok());
  EXPECT_THAT(first.service->received(), testing::ElementsAre("remove root R"));
  EXPECT_THAT(second.service->received(), testing::ElementsAre("remove root R"));
}

TEST(TrustListRelayTest, AReplicaThatAlreadyHasTheChangeIsFine) {
  Replica first = Serve("127.0.0.1");
  Replica second = Serve("127.0.0.2", grpc::StatusCode::ALREADY_EXISTS);
  TrustListRelay relay(Signer(first.address), {first.address, second.address}, absl::Seconds(10));
  EXPECT_TRUE(relay.Send(Change("c")).ok());
}

TEST(TrustListRelayTest, AReplicaThatRefusesIsNamedAndTheOthersStillGetIt) {
  Replica refusing = Serve("127.0.0.1", grpc::StatusCode::FAILED_PRECONDITION);
  Replica accepting = Serve("127.0.0.2");
  TrustListRelay relay(Signer(refusing.address), {refusing.address, accepting.address},
                       absl::Seconds(10));
  absl::Status sent = relay.Send(Change("c"));
  EXPECT_EQ(sent.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(sent.message()), HasSubstr("signer replica " + refusing.address));
  EXPECT_THAT(accepting.service->received(), SizeIs(1));
}

TEST(TrustListRelayTest, AnUnreachableReplicaIsUnavailableAndNamed) {
  Replica up = Serve("127.0.0.1");
  const std::string down = "127.0.0.3:1";  // Nothing listens on port 1.
  TrustListRelay relay(Signer(up.address), {up.address, down}, absl::Seconds(2));
  absl::Status sent = relay.Send(Change("c"));
  EXPECT_THAT(sent.code(),
              testing::AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(std::string(sent.message()), HasSubstr(down));
  EXPECT_THAT(up.service->received(), SizeIs(1));
}

// Without a list, every address the signer's name resolves to is a replica (a headless Service).
TEST(TrustListRelayTest, WithoutAListTheNameIsResolved) {
  Replica replica = Serve("127.0.0.1");
  const std::string port = replica.address.substr(replica.address.rfind(':') + 1);
  TrustListRelay relay(Signer("localhost:" + port), {}, absl::Seconds(10));
  absl::StatusOr<std::vector<std::string>> replicas = relay.Replicas();
  ASSERT_TRUE(replicas.ok()) << replicas.status();
  EXPECT_THAT(*replicas, testing::Contains("127.0.0.1:" + port));
  // ::1 may be listed too where the hosts file says so; nothing listens there.
  if (replicas->size() == 1) {
    ASSERT_TRUE(relay.Send(Change("c")).ok());
    EXPECT_THAT(replica.service->received(), SizeIs(1));
  }
}

TEST(TrustListRelayTest, AnAddressWithoutAPortIsRefusedAndNothingIsSent) {
  TrustListRelay relay(Signer("127.0.0.1"), {}, absl::Seconds(2));
  EXPECT_EQ(relay.Send(Change("c")).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mecai
