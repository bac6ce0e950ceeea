#include "coordinator/witness_collector.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "common/net/http_server.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/cosigned_checkpoint.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "witness/witness.h"
#include "witness/witness_handler.h"
#include "witness/witness_state.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;

constexpr char kShard[] = "shard-1";
constexpr char kOrigin[] = "log.a.example/mecai/shard-1";

// A witness served over HTTP in this process, its key in memory.
struct InProcessWitness {
  std::unique_ptr<witness::WitnessState> state;
  std::unique_ptr<InMemorySigningKey> signer;
  NoteVerifierKey key;
  std::unique_ptr<witness::Witness> witness;
  std::unique_ptr<witness::WitnessHandler> handler;
  std::unique_ptr<HttpServer> server;
};

double CounterValue(prometheus::Registry& registry, const std::string& witness,
                    const std::string& result) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "mecai_coordinator_witness_cosignatures_total") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        labels[label.name] = label.value;
      }
      if (labels["witness"] == witness && labels["result"] == result) return metric.counter.value;
    }
  }
  return 0;
}

class WitnessCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(store_, RecordStore::Open(directory_ + "/store", kShard));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(log_key_, Ed25519VerifierKey(kOrigin, key.get()));
    ASSERT_OK_AND_ASSIGN(log_signer_, InMemorySigningKey::Create(std::move(key)));
  }

  void StartWitness(InProcessWitness& w, const std::string& name) {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(w.key, CosignerKey(name, key.get()));
    ASSERT_OK_AND_ASSIGN(w.signer, InMemorySigningKey::Create(std::move(key)));
    ASSERT_OK_AND_ASSIGN(
        w.state, witness::WitnessState::Open(absl::StrCat(directory_, "/state-", ++states_)));
    w.witness = std::make_unique<witness::Witness>(
        std::map<std::string, std::vector<NoteVerifierKey>>{{kOrigin, {log_key_}}}, w.key,
        *w.signer, *w.state, SystemClock::Get(), nullptr);
    w.handler = std::make_unique<witness::WitnessHandler>(*w.witness, "", nullptr);
    witness::WitnessHandler* handler = w.handler.get();
    ASSERT_OK_AND_ASSIGN(w.server, HttpServer::Start("127.0.0.1:0", [handler](const auto& r) {
                           return handler->Handle(r);
                         }));
  }

  v1::WitnessEndpoint Endpoint(const InProcessWitness& w, uint32_t timeout_ms = 5000) {
    v1::WitnessEndpoint endpoint;
    endpoint.set_url(absl::StrCat("http://127.0.0.1:", w.server->port()));
    endpoint.set_vkey(FormatCosignerVkey(w.key));
    endpoint.set_timeout_milliseconds(timeout_ms);
    return endpoint;
  }

  // Grows the store to `size` records and stores a checkpoint of it with a note.
  v1::SignedCheckpoint Checkpoint(uint64_t size) {
    while (store_->TreeSize() < size) {
      EXPECT_OK(store_
                    ->Append([](uint64_t index) {
                      v1::QuorumRecord record;
                      record.set_log_index(index);
                      record.set_log_shard_id(kShard);
                      record.set_hostname(absl::StrCat("host-", index, ".example"));
                      record.set_decision(v1::REFUSED);
                      return absl::StatusOr<v1::QuorumRecord>(record);
                    })
                    .status());
    }
    absl::StatusOr<std::string> root = store_->RootHash(size);
    EXPECT_OK(root.status());
    v1::CheckpointBody body;
    body.set_log_shard_id(kShard);
    body.set_tree_size(size);
    body.set_root_hash(*root);
    v1::SignedCheckpoint checkpoint;
    checkpoint.set_tbs(body.SerializeAsString());
    absl::StatusOr<std::string> text = FormatCheckpointText({kOrigin, size, *root});
    absl::StatusOr<NoteSignature> signature = SignNoteText(*text, log_key_, *log_signer_);
    absl::StatusOr<std::string> note = FormatSignedNote(*text, {*signature});
    EXPECT_OK(note.status());
    checkpoint.set_note(*note);
    EXPECT_OK(store_->PutCheckpoint(checkpoint, size));
    return checkpoint;
  }

  std::string directory_;
  std::unique_ptr<RecordStore> store_;
  NoteVerifierKey log_key_;
  std::unique_ptr<InMemorySigningKey> log_signer_;
  prometheus::Registry registry_;
  int states_ = 0;
};

TEST_F(WitnessCollectorTest, StoresTheNoteWithEveryWitnessesCosignature) {
  InProcessWitness a, b;
  StartWitness(a, "a.example/w");
  StartWitness(b, "b.example/w");
  ASSERT_OK_AND_ASSIGN(auto collector,
                       WitnessCollector::Create({Endpoint(a), Endpoint(b)}, *store_, &registry_));
  collector->CheckpointStored(Checkpoint(10));
  collector->WaitUntilIdle();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint stored, store_->GetLatestCheckpoint());
  ASSERT_OK_AND_ASSIGN(CosignedCheckpoint verified,
                       VerifyCosignedCheckpoint(stored.note(), log_key_, {a.key, b.key}, 2));
  EXPECT_EQ(verified.checkpoint.tree_size, 10u);
  EXPECT_THAT(verified.cosigners, ElementsAre("a.example/w", "b.example/w"));
  // The next checkpoint: each witness is asked from the size it cosigned, with a proof.
  collector->CheckpointStored(Checkpoint(300));
  collector->WaitUntilIdle();
  ASSERT_OK_AND_ASSIGN(stored, store_->GetLatestCheckpoint());
  ASSERT_OK_AND_ASSIGN(verified,
                       VerifyCosignedCheckpoint(stored.note(), log_key_, {a.key, b.key}, 2));
  EXPECT_EQ(verified.checkpoint.tree_size, 300u);
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "cosigned"), 2);
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "conflict"), 0);
}

TEST_F(WitnessCollectorTest, LearnsTheWitnessesSizeFromItsConflict) {
  InProcessWitness a;
  StartWitness(a, "a.example/w");
  // The witness already cosigned 100 (another coordinator process, before a restart).
  {
    ASSERT_OK_AND_ASSIGN(auto first, WitnessCollector::Create({Endpoint(a)}, *store_, nullptr));
    first->CheckpointStored(Checkpoint(100));
    first->WaitUntilIdle();
  }
  ASSERT_OK_AND_ASSIGN(auto collector,
                       WitnessCollector::Create({Endpoint(a)}, *store_, &registry_));
  collector->CheckpointStored(Checkpoint(250));
  collector->WaitUntilIdle();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint stored, store_->GetLatestCheckpoint());
  EXPECT_OK(VerifyCosignedCheckpoint(stored.note(), log_key_, {a.key}, 1).status());
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "conflict"), 1);
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "cosigned"), 1);
}

TEST_F(WitnessCollectorTest, AWitnessThatIsDownOrSilentCostsOnlyItsOwnCosignature) {
  InProcessWitness a;
  StartWitness(a, "a.example/w");
  // Down: nothing listens. Silent: a socket that accepts connections and never answers.
  InProcessWitness down, silent;
  StartWitness(down, "down.example/w");
  StartWitness(silent, "silent.example/w");
  v1::WitnessEndpoint down_endpoint = Endpoint(down, 300);
  down.server.reset();
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  v1::WitnessEndpoint silent_endpoint = Endpoint(silent, 500);
  silent_endpoint.set_url(absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port)));

  ASSERT_OK_AND_ASSIGN(
      auto collector,
      WitnessCollector::Create({down_endpoint, silent_endpoint, Endpoint(a)}, *store_, &registry_));
  const v1::SignedCheckpoint checkpoint = Checkpoint(10);
  const absl::Time started = absl::Now();
  collector->CheckpointStored(checkpoint);
  // Handing it over does not wait for any witness.
  EXPECT_LT(absl::Now() - started, absl::Milliseconds(100));
  collector->WaitUntilIdle();
  // The witnesses are asked at once: the slowest timeout, not their sum.
  EXPECT_LT(absl::Now() - started, absl::Milliseconds(3000));
  close(listener);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint stored, store_->GetLatestCheckpoint());
  EXPECT_THAT(VerifyCosignedCheckpoint(stored.note(), log_key_, {down.key, silent.key, a.key}, 2),
              test_pki::StatusIs(absl::StatusCode::kPermissionDenied,
                                 "1 of the required 2 cosignatures: no signature of witness "
                                 "down.example/w; no signature of witness silent.example/w"));
  EXPECT_EQ(CounterValue(registry_, "down.example/w", "unreachable"), 1);
  EXPECT_EQ(CounterValue(registry_, "silent.example/w", "unreachable"), 1);
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "cosigned"), 1);
}

TEST_F(WitnessCollectorTest, ACosignatureThatDoesNotVerifyIsNotStored) {
  InProcessWitness a, impostor;
  StartWitness(a, "a.example/w");
  StartWitness(impostor, "a.example/w");
  // The collector expects impostor's key at a's address.
  v1::WitnessEndpoint endpoint = Endpoint(a);
  endpoint.set_vkey(FormatCosignerVkey(impostor.key));
  ASSERT_OK_AND_ASSIGN(auto collector, WitnessCollector::Create({endpoint}, *store_, &registry_));
  const v1::SignedCheckpoint checkpoint = Checkpoint(10);
  collector->CheckpointStored(checkpoint);
  collector->WaitUntilIdle();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint stored, store_->GetLatestCheckpoint());
  EXPECT_EQ(stored.note(), checkpoint.note());
  EXPECT_EQ(CounterValue(registry_, "a.example/w", "bad_cosignature"), 1);
}

TEST_F(WitnessCollectorTest, RefusesABadConfiguration) {
  v1::WitnessEndpoint endpoint;
  endpoint.set_url("ftp://w.example");
  InProcessWitness a;
  StartWitness(a, "a.example/w");
  endpoint.set_vkey(FormatCosignerVkey(a.key));
  EXPECT_THAT(WitnessCollector::Create({endpoint}, *store_, nullptr),
              test_pki::StatusIs(absl::StatusCode::kInvalidArgument,
                                 "witness a.example/w: not an http(s) URL: ftp://w.example"));
  EXPECT_THAT(WitnessCollector::Create({Endpoint(a), Endpoint(a)}, *store_, nullptr),
              test_pki::StatusIs(absl::StatusCode::kInvalidArgument,
                                 "two witnesses are named a.example/w"));
}

}  // namespace
}  // namespace mecai
