// Stateless front coordinators and one sequencer per VA (docs/ARCHITECTURE.md §14), over the real
// binaries: two fronts and the sequencer decide VRs into one log with one consistent history; an
// identical VR sent to another front is answered from its record; the sequencer killed with
// SIGKILL under load through both fronts comes back on the same store, every VD a client received
// has its record holding exactly that VD, the log verifies, and the fronts record again without a
// restart of their own; a caller that is not a front is refused by the sequencer.
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/net/http_binding.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/sequencer.grpc.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// What one Vouch call to one coordinator came to.
struct Sent {
  int coordinator = 0;  // 0: the sequencer itself; n: front n.
  std::string request_sha256;
  absl::Status call;
  v1::VouchResponse response;
};

class SequencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    LocalClusterOptions options;
    options.fronts = 2;
    options.max_probe_rounds_per_hostname = 100000;
    // Every VR is a decision of its own, with a record of its own: no decision reuse.
    options.decision_reuse = false;
    // A CRL of about 2.4 MiB, the size of a large CA's: a front sends it to the sequencer once.
    options.crl_padding_entries = 48000;
    Customize(options);
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster(absl::StrCat("cluster-", ++counter), options));
  }
  // What a fixture of its own changes in the cluster.
  virtual void Customize(LocalClusterOptions& options) {}

  std::string MakeRequest() {
    absl::StatusOr<std::string> request = FreshRequest(*cluster_);
    EXPECT_TRUE(request.ok()) << request.status();
    return request.ok() ? *request : std::string();
  }

  v1::PeerConfig PeerOf(int coordinator) const {
    return coordinator == 0 ? cluster_->CoordinatorPeer() : cluster_->FrontPeer(coordinator);
  }

  // One channel per coordinator, kept, as a stapler keeps its connection: under load (and under
  // ASan) a new TLS handshake per VR would time out in the client before it reached the front.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(int coordinator) {
    std::lock_guard<std::mutex> lock(channels_mutex_);
    auto it = channels_.find(coordinator);
    if (it != channels_.end()) return it->second;
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(PeerOf(coordinator)));
    channels_.emplace(coordinator, channel);
    return channel;
  }

  // One Vouch call to `coordinator`, its caller's deadline `deadline` from now.
  Sent Vouch(int coordinator, const std::string& serialized,
             absl::Duration deadline = absl::Seconds(30)) {
    Sent sent;
    sent.coordinator = coordinator;
    sent.request_sha256 = Sha256(serialized);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelTo(coordinator);
    if (!channel.ok()) {
      sent.call = channel.status();
      return sent;
    }
    auto stub = v1::VouchingService::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::VouchRequest request;
    request.set_vouching_request(serialized);
    const grpc::Status status = stub->Vouch(&context, request, &sent.response);
    sent.call = status.ok() ? absl::OkStatus()
                            : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                           status.error_message());
    return sent;
  }

  // The sequencer as front-1 reaches it, with front-1's mutual-TLS identity: for crafted calls.
  absl::StatusOr<std::unique_ptr<v1::SequencerService::Stub>> SequencerAsFront() {
    ASSIGN_OR_RETURN(v1::CoordinatorConfig front,
                     LoadConfig<v1::CoordinatorConfig>(cluster_->Path("front-1.textproto")));
    ASSIGN_OR_RETURN(auto channel, MakeChannel(front.sequencer()));
    return v1::SequencerService::NewStub(channel);
  }

  // One RecordDecision call of `sequencer`, within 30 s.
  static grpc::Status RecordDecision(v1::SequencerService::Stub& sequencer,
                                     const v1::RecordDecisionRequest& decision,
                                     v1::RecordDecisionResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return sequencer.RecordDecision(&context, decision, response);
  }

  // The record at `log_index`, from the sequencer's audit service.
  absl::StatusOr<v1::QuorumRecord> RecordAt(uint64_t log_index) {
    ASSIGN_OR_RETURN(auto channel, MakeChannel(cluster_->CoordinatorPeer()));
    auto audit = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetRecordRequest request;
    request.set_log_index(log_index);
    v1::GetRecordResponse response;
    const grpc::Status status = audit->GetRecord(&context, request, &response);
    if (!status.ok()) return absl::InternalError(status.error_message());
    return response.record();
  }

  // `mecai audit --verify` of the whole log against a freshly signed checkpoint finds nothing
  // wrong; returns the tree size.
  uint64_t ExpectTheLogVerifies() {
    std::string output;
    absl::StatusOr<AuditReport> report = AuditWholeLog(*cluster_, &output);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return 0;
    EXPECT_THAT(report->problems, SizeIs(0)) << output;
    return report->tree_size;
  }

  // Each issued answer of `sent` is exactly what the record at its log index holds, for its VR.
  void ExpectEachVdInItsRecord(const std::vector<Sent>& sent) {
    for (const Sent& one : sent) {
      if (!one.call.ok() || !one.response.has_vouching_data()) continue;
      v1::VouchingStatement statement;
      ASSERT_TRUE(statement.ParseFromString(one.response.vouching_data().statement()));
      ASSERT_OK_AND_ASSIGN(v1::QuorumRecord record, RecordAt(statement.log_index()));
      EXPECT_EQ(record.decision(), v1::ISSUED);
      EXPECT_EQ(record.vouching_request_sha256(), one.request_sha256);
      EXPECT_EQ(record.vouching_data().SerializeAsString(),
                one.response.vouching_data().SerializeAsString());
    }
  }

  std::mutex channels_mutex_;
  std::map<int, std::shared_ptr<grpc::Channel>> channels_;
  // Destroyed before the channels: it stops the processes they reach.
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(SequencerTest, TwoFrontsAndTheSequencerWriteOneHistory) {
  // VRs to front 1, front 2 and the sequencer in turn: every one issued, each at its own index of
  // one log, whose record holds that VR and that VD.
  std::vector<Sent> sent;
  for (int i = 0; i < 9; ++i) sent.push_back(Vouch(i % 3 == 2 ? 0 : i % 3 + 1, MakeRequest()));
  std::set<uint64_t> indices;
  for (const Sent& one : sent) {
    ASSERT_TRUE(one.call.ok()) << "coordinator " << one.coordinator << ": " << one.call;
    ASSERT_TRUE(one.response.has_vouching_data())
        << "coordinator " << one.coordinator << ": " << one.response.refusal().explanation();
    EXPECT_TRUE(indices.insert(one.response.log_index()).second) << one.response.log_index();
  }
  ExpectEachVdInItsRecord(sent);
  EXPECT_GE(ExpectTheLogVerifies(), sent.size());

  // A front serves the public endpoint too: a VR POSTed over HTTPS to front 2 (as a stapler's
  // shell script does) is issued and recorded in the same log.
  ASSERT_OK_AND_ASSIGN(std::string port_text,
                       ReadFile(cluster_->Path("run/front-2-public-http.port")));
  const std::string port(absl::StripAsciiWhitespace(port_text));
  const std::string posted = MakeRequest();
  ASSERT_OK(WriteFileAtomically(cluster_->Path("front-2.vr"), posted));
  auto curl = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "60", "--cacert",
       cluster_->CoordinatorPublicCaFile(), "--resolve", absl::StrCat("front:", port, ":127.0.0.1"),
       "--header", absl::StrCat("Content-Type: ", kVouchingRequestMediaType), "--data-binary",
       "@" + cluster_->Path("front-2.vr"), "--output", cluster_->Path("front-2.out"),
       absl::StrCat("https://front:", port, kPublicVouchPath)},
      cluster_->Path("logs/curl-front-2.log"));
  ASSERT_OK(curl.status());
  ASSERT_TRUE((*curl)->WaitForExit(absl::Seconds(70)));
  ASSERT_EQ((*curl)->ExitCode(), 0)
      << ReadFile(cluster_->Path("logs/curl-front-2.log")).value_or("");
  ASSERT_OK_AND_ASSIGN(std::string body, ReadFile(cluster_->Path("front-2.out")));
  v1::VouchResponse over_https;
  ASSERT_TRUE(over_https.ParseFromString(body));
  ASSERT_TRUE(over_https.has_vouching_data()) << over_https.refusal().explanation();
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord https_record, RecordAt(over_https.log_index()));
  EXPECT_EQ(https_record.vouching_request_sha256(), Sha256(posted));

  // The VR front 1 decided, sent again to front 2, is answered from its record, not probed again.
  const std::string again = MakeRequest();
  const Sent first = Vouch(1, again);
  ASSERT_OK(first.call);
  ASSERT_TRUE(first.response.has_vouching_data()) << first.response.refusal().explanation();
  const Sent second = Vouch(2, again);
  ASSERT_OK(second.call);
  EXPECT_TRUE(second.response.served_from_record());
  EXPECT_EQ(second.response.log_index(), first.response.log_index());
  EXPECT_EQ(second.response.vouching_data().SerializeAsString(),
            first.response.vouching_data().SerializeAsString());
}

TEST_F(SequencerTest, SequencerKilledUnderLoadComesBackWithEveryReturnedVdRecorded) {
  // Four clients on each front send VRs until 20 VDs came back; then the sequencer is killed with
  // SIGKILL while they go on, and restarted on the same store 2 s later.
  std::mutex mutex;
  std::vector<Sent> sent;
  std::atomic<bool> stop{false};
  std::atomic<int> issued{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, front = c % 2 + 1] {
      for (int i = 0; i < 400 && !stop.load(); ++i) {
        Sent one = Vouch(front, MakeRequest());
        if (one.call.ok() && one.response.has_vouching_data()) ++issued;
        std::lock_guard<std::mutex> lock(mutex);
        sent.push_back(std::move(one));
      }
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (issued.load() < 20 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_GE(issued.load(), 20);
  ASSERT_OK(cluster_->Kill("coordinator", SIGKILL));
  const absl::Time killed = absl::Now();
  absl::SleepFor(absl::Seconds(2));
  const int issued_before_restart = issued.load();
  ASSERT_OK(cluster_->RestartCoordinator());
  // The fronts record again, without a restart of their own.
  while (issued.load() < issued_before_restart + 10 && absl::Now() < give_up + absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration outage = absl::Now() - killed;
  stop = true;
  for (std::thread& client : clients) client.join();
  EXPECT_GE(issued.load(), issued_before_restart + 10) << "outage so far " << outage;

  // While the sequencer was down, a front's VR waited for it (within sequencer_timeout); a VR
  // whose recording the kill cut off failed as a call naming the sequencer, never as a refusal.
  // No VD was lost: each one a client received is in the log at its index.
  int failed_calls = 0;
  for (const Sent& one : sent) {
    if (one.call.ok()) {
      EXPECT_TRUE(one.response.has_vouching_data()) << one.response.refusal().explanation();
      continue;
    }
    ++failed_calls;
    EXPECT_THAT(one.call.code(),
                AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded))
        << one.call;
    EXPECT_THAT(one.call.message(), HasSubstr("sequencer")) << one.call;
  }
  ExpectEachVdInItsRecord(sent);
  EXPECT_GE(ExpectTheLogVerifies(), static_cast<uint64_t>(issued.load()));
  std::cout << "sequencer SIGKILL: " << sent.size() << " VRs, " << issued.load() << " issued, "
            << failed_calls << " failed as calls; issuing again " << outage
            << " after the kill (2 s down)" << std::endl;
}

// The fronts' identity, which the Internet-facing fronts hold, is not one the signer serves: a
// compromised front cannot ask the signer for anything.
TEST_F(SequencerTest, TheSignerRefusesTheFrontsIdentity) {
  v1::PeerConfig as_front = cluster_->SignerPeerAsCoordinator();
  as_front.mutable_tls()->set_certificate_file(cluster_->Path("internal/front.pem"));
  as_front.mutable_tls()->set_private_key_file(cluster_->Path("internal/front.key"));
  ASSERT_OK_AND_ASSIGN(auto channel, MakeChannel(as_front));
  auto signer = v1::SignerService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::SignCheckpointRequest request;
  v1::SignCheckpointResponse response;
  const grpc::Status status = signer->SignCheckpoint(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
}

TEST_F(SequencerTest, TheSequencerRecordsOnlyForItsFronts) {
  // A stapler's identity (allowed to Vouch on the same listener) may not write into the log.
  ASSERT_OK_AND_ASSIGN(auto channel, MakeChannel(cluster_->CoordinatorPeer()));
  auto sequencer = v1::SequencerService::NewStub(channel);
  v1::RecordDecisionRequest decision;
  const std::string request = MakeRequest();
  decision.mutable_decision()->set_vouching_request(request);
  decision.mutable_decision()->set_vouching_request_sha256(Sha256(request));
  decision.mutable_decision()->set_decision(v1::REFUSED);
  grpc::ClientContext context;
  v1::RecordDecisionResponse response;
  const grpc::Status status = sequencer->RecordDecision(&context, decision, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("front_identities"));
}

// A compromised front holds the coordinator's mutual-TLS identity and calls the REAL sequencer with
// crafted decisions: it may write a decision (as a coordinator always could), but never a VD the
// signer did not sign, nor an administrative record; a malformed decision takes no log index.
TEST_F(SequencerTest, ACompromisedFrontWritesNoVdAndNoAdministrativeRecord) {
  ASSERT_OK_AND_ASSIGN(auto sequencer, SequencerAsFront());
  auto record = [&](const v1::RecordDecisionRequest& decision,
                    v1::RecordDecisionResponse* response) {
    return RecordDecision(*sequencer, decision, response);
  };
  // A genuine decision's record gives the VR's indexed fields (the same certificate as below).
  const Sent genuine = Vouch(1, MakeRequest());
  ASSERT_OK(genuine.call);
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord genuine_record, RecordAt(genuine.response.log_index()));
  const std::string request = MakeRequest();
  v1::RecordDecisionRequest decision;
  v1::QuorumRecord& crafted = *decision.mutable_decision();
  crafted.set_vouching_request(request);
  crafted.set_vouching_request_sha256(Sha256(request));
  crafted.set_hostname(genuine_record.hostname());
  crafted.set_port(genuine_record.port());
  crafted.set_trust_list(genuine_record.trust_list());
  *crafted.mutable_certificate_sha256() = genuine_record.certificate_sha256();
  crafted.set_decision(v1::REFUSED);

  // A decision filed under another hostname than its VR's (to hide it from those who watch that
  // hostname's records) is refused.
  v1::RecordDecisionRequest decoy = decision;
  decoy.mutable_decision()->set_hostname("decoy.example");
  v1::RecordDecisionResponse decoy_response;
  const grpc::Status decoy_status = record(decoy, &decoy_response);
  EXPECT_EQ(decoy_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(decoy_status.error_message(), HasSubstr("is not its VR's"));

  crafted.mutable_refusal()->set_reason(v1::CERTIFICATE_MISMATCH);
  // A refusal smuggling a VD and a trust-list change.
  crafted.mutable_vouching_data()->set_statement("not signed by the signer");
  crafted.mutable_vouching_data()->mutable_signature()->set_value("forged");
  crafted.mutable_trust_list_change()->set_trust_list(LocalCluster::kTrustList);
  v1::RecordDecisionResponse refused;
  ASSERT_TRUE(record(decision, &refused).ok());
  ASSERT_TRUE(refused.has_record());
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord stored, RecordAt(refused.record().log_index()));
  EXPECT_EQ(stored.decision(), v1::REFUSED);
  EXPECT_FALSE(stored.has_vouching_data());
  EXPECT_FALSE(stored.has_trust_list_change());

  // ISSUED with no Observations: the signer re-checks and refuses; the record says so, no VD.
  crafted.clear_vouching_data();
  crafted.clear_trust_list_change();
  crafted.clear_refusal();
  crafted.set_decision(v1::ISSUED);
  v1::RecordDecisionResponse unsupported;
  ASSERT_TRUE(record(decision, &unsupported).ok());
  ASSERT_TRUE(unsupported.has_record());
  EXPECT_EQ(unsupported.record().decision(), v1::REFUSED);
  EXPECT_FALSE(unsupported.record().has_vouching_data());
  EXPECT_EQ(unsupported.record().log_index(), refused.record().log_index() + 1);

  // Malformed: a digest that is not the VR's, evidence named by a hash the store lacks (asked for,
  // not recorded), a response that is not the one its hash names, a NUL in the hostname. None
  // takes an index.
  v1::RecordDecisionRequest wrong_digest = decision;
  wrong_digest.mutable_decision()->set_vouching_request_sha256(Sha256("another VR"));
  v1::RecordDecisionResponse none;
  const grpc::Status refused_digest = record(wrong_digest, &none);
  EXPECT_EQ(refused_digest.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::RecordDecisionRequest unknown_evidence = decision;
  unknown_evidence.mutable_decision()->add_revocation()->set_response_sha256(Sha256("no CRL"));
  v1::RecordDecisionResponse needed;
  ASSERT_TRUE(record(unknown_evidence, &needed).ok());
  ASSERT_TRUE(needed.has_evidence_needed());
  EXPECT_EQ(needed.evidence_needed().response_sha256(0), Sha256("no CRL"));
  v1::RecordDecisionRequest mislabelled = decision;
  v1::RevocationEvidence* crl = mislabelled.mutable_decision()->add_revocation();
  crl->set_response_der("not the CRL the hash names");
  crl->set_response_sha256(Sha256("the CRL"));
  EXPECT_EQ(record(mislabelled, &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::RecordDecisionRequest nul_hostname = decision;
  nul_hostname.mutable_decision()->set_hostname(std::string("a\0b.example", 11));
  EXPECT_EQ(record(nul_hostname, &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  crafted.set_decision(v1::REFUSED);
  v1::RecordDecisionResponse next;
  ASSERT_TRUE(record(decision, &next).ok());
  EXPECT_EQ(next.record().log_index(), refused.record().log_index() + 2);
  ExpectTheLogVerifies();
}

// A front with one worker thread, whose sequencer is stopped (SIGSTOP: connected, never
// answering).
class OneWorkerFrontTest : public SequencerTest {
 protected:
  void Customize(LocalClusterOptions& options) override {
    options.fronts = 1;
    options.crl_padding_entries = 0;
    options.coordinator_overrides.set_vouch_worker_threads(1);
  }
};

// A front's question to its sequencer ("was this VR recorded before?") holds no worker thread:
// while a VR waits for the stopped sequencer's answer, the front's only worker still answers
// another VR (one refused at once, which asks the sequencer nothing). Once the sequencer runs
// again, the waiting VR is issued. With the question asked on the worker, the second VR would have
// waited behind the first until the sequencer answered.
TEST_F(OneWorkerFrontTest, AVrWaitingForTheSequencerHoldsNoWorker) {
  ASSERT_OK(cluster_->Signal("coordinator", SIGSTOP));
  const std::string valid = MakeRequest();
  Sent waiting;
  std::thread first([&] { waiting = Vouch(1, valid); });
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time start = absl::Now();
  const Sent refused = Vouch(1, "not a vouching request");
  const absl::Duration answered_in = absl::Now() - start;
  // The sequencer runs again before anything is checked, so that nothing is left stopped.
  ASSERT_OK(cluster_->Signal("coordinator", SIGCONT));
  first.join();
  EXPECT_OK(refused.call);
  EXPECT_EQ(refused.response.refusal().reason(), v1::MALFORMED_REQUEST)
      << refused.response.DebugString();
  EXPECT_LT(answered_in, absl::Seconds(3)) << "the worker waited for the sequencer";
  ASSERT_OK(waiting.call);
  EXPECT_TRUE(waiting.response.has_vouching_data()) << waiting.response.DebugString();
  ExpectEachVdInItsRecord({waiting});
}

// One front, and a sequencer that has one decision signed at a time (vouch_worker_threads 1) and
// waits up to 30 s for its signer.
class OneSigningAtATimeTest : public SequencerTest {
 protected:
  void Customize(LocalClusterOptions& options) override {
    options.fronts = 1;
    options.crl_padding_entries = 0;
    options.coordinator_overrides.set_vouch_worker_threads(1);
    options.coordinator_overrides.set_signer_timeout_milliseconds(30000);
  }

  // The sum of the samples of `name` with `label` in `service`'s metrics; -1 when there is none,
  // or the metrics cannot be read.
  double Metric(const std::string& service, const std::string& name, const std::string& label) {
    absl::StatusOr<std::string> text = FetchMetrics(*cluster_, service);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? SumOfSamples(*text, name, label) : -1;
  }

  // Polls (bounded) until Metric(service, name, label) is `value`.
  bool AwaitMetric(const std::string& service, const std::string& name, const std::string& label,
                   double value) {
    for (int i = 0; i < 150; ++i) {
      if (Metric(service, name, label) == value) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  // A crafted decision (as a compromised front may send) about a fresh VR, filed under the
  // indexed fields of the genuine record `genuine`, which it shares (the same certificate).
  v1::RecordDecisionRequest CraftedDecision(const v1::QuorumRecord& genuine, v1::Decision verdict) {
    const std::string request = MakeRequest();
    v1::RecordDecisionRequest decision;
    v1::QuorumRecord& crafted = *decision.mutable_decision();
    crafted.set_vouching_request(request);
    crafted.set_vouching_request_sha256(Sha256(request));
    crafted.set_hostname(genuine.hostname());
    crafted.set_port(genuine.port());
    crafted.set_trust_list(genuine.trust_list());
    *crafted.mutable_certificate_sha256() = genuine.certificate_sha256();
    crafted.set_decision(verdict);
    if (verdict == v1::REFUSED) crafted.mutable_refusal()->set_reason(v1::CERTIFICATE_MISMATCH);
    return decision;
  }
};

constexpr char kDeadlineExceeded[] = "reason=\"deadline_exceeded\"";

// A front's VR whose deadline passes while its decision waits at the sequencer for its turn to be
// signed is neither signed nor recorded there (RecordDecisionRequest.sign_by_unix_milliseconds):
// with the signer stopped, a first VR holds the sequencer's one signing; a second, given 5 s,
// waits behind it. Once the signer runs again the first is issued; the second's turn comes after
// its deadline: the signer signs one VD, the log holds one record, and both the front and the
// sequencer count a VR ended by its deadline. Without the deadline in the request, the sequencer
// had the second signed and recorded (its call's deadline, sequencer_timeout_milliseconds 15 s,
// had not passed) for a caller already gone.
TEST_F(OneSigningAtATimeTest, AVrWhoseDeadlinePassesBeforeItsTurnAtTheSequencerIsNotSigned) {
  const std::string first_request = MakeRequest();
  const std::string second_request = MakeRequest();
  ASSERT_OK(cluster_->Signal("signer", SIGSTOP));
  Sent first;
  std::thread first_caller([&] { first = Vouch(1, first_request); });
  EXPECT_TRUE(AwaitMetric("coordinator", "mecai_coordinator_signings", "state=\"in_flight\"", 1));
  const Sent second = Vouch(1, second_request, absl::Seconds(5));
  // The second waited for its turn at the sequencer (its probe round done), not in an earlier
  // step.
  const double waiting = Metric("coordinator", "mecai_coordinator_signings", "state=\"waiting\"");
  ASSERT_OK(cluster_->Signal("signer", SIGCONT));
  first_caller.join();
  EXPECT_EQ(waiting, 1);
  EXPECT_EQ(second.call.code(), absl::StatusCode::kDeadlineExceeded) << second.call;
  ASSERT_OK(first.call);
  ASSERT_TRUE(first.response.has_vouching_data()) << first.response.DebugString();

  EXPECT_TRUE(
      AwaitMetric("coordinator", "mecai_coordinator_vouch_refused_total", kDeadlineExceeded, 1));
  EXPECT_TRUE(
      AwaitMetric("front-1", "mecai_coordinator_vouch_refused_total", kDeadlineExceeded, 1));
  EXPECT_TRUE(AwaitMetric("coordinator", "mecai_coordinator_signings", "", 0));
  EXPECT_EQ(Metric("coordinator", "mecai_coordinator_log_leaves", ""), 1);
  EXPECT_EQ(Metric("signer", "mecai_signer_signatures_total", "kind=\"vouching_data\""), 1);
  ExpectEachVdInItsRecord({first});
}

// A decision whose sign_by_unix_milliseconds has passed when it reaches the sequencer, alone or in
// a RecordDecisions call, is refused DEADLINE_EXCEEDED without taking a log index (nor a signing
// turn), and counted; one without the field (a front that does not send it) or with a time however
// far ahead is recorded as before.
TEST_F(OneSigningAtATimeTest, ADecisionPastItsVrsDeadlineIsRefusedAndOneWithoutItIsRecorded) {
  ASSERT_OK_AND_ASSIGN(auto sequencer, SequencerAsFront());
  auto record = [&](const v1::RecordDecisionRequest& decision,
                    v1::RecordDecisionResponse* response) {
    return RecordDecision(*sequencer, decision, response);
  };
  const Sent genuine = Vouch(1, MakeRequest());
  ASSERT_OK(genuine.call);
  ASSERT_OK_AND_ASSIGN(v1::QuorumRecord genuine_record, RecordAt(genuine.response.log_index()));
  const int64_t past = absl::ToUnixMillis(absl::Now() - absl::Seconds(1));

  // Past: refused, whether it would be signed or not; nothing recorded.
  for (v1::Decision verdict : {v1::ISSUED, v1::REFUSED}) {
    v1::RecordDecisionRequest late = CraftedDecision(genuine_record, verdict);
    late.set_sign_by_unix_milliseconds(past);
    v1::RecordDecisionResponse none;
    const grpc::Status status = record(late, &none);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << v1::Decision_Name(verdict) << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("the VR's deadline passed"));
    EXPECT_THAT(status.error_message(), HasSubstr("nothing was recorded"));
    EXPECT_FALSE(none.has_record());
  }
  // In a RecordDecisions call: the late one refused, the other, without the field, recorded.
  v1::RecordDecisionsRequest batch;
  *batch.add_decisions() = CraftedDecision(genuine_record, v1::REFUSED);
  batch.mutable_decisions(0)->set_sign_by_unix_milliseconds(past);
  *batch.add_decisions() = CraftedDecision(genuine_record, v1::REFUSED);
  v1::RecordDecisionsResponse results;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ASSERT_TRUE(sequencer->RecordDecisions(&context, batch, &results).ok());
  }
  ASSERT_EQ(results.results_size(), 2);
  EXPECT_EQ(results.results(0).code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << results.results(0).message();
  EXPECT_FALSE(results.results(0).response().has_record());
  ASSERT_EQ(results.results(1).code(), grpc::StatusCode::OK) << results.results(1).message();
  EXPECT_EQ(results.results(1).response().record().log_index(), genuine_record.log_index() + 1);
  EXPECT_TRUE(
      AwaitMetric("coordinator", "mecai_coordinator_vouch_refused_total", kDeadlineExceeded, 3));

  // Without the field, and with the farthest time the field holds: recorded, each at the next
  // index.
  v1::RecordDecisionResponse without;
  ASSERT_TRUE(record(CraftedDecision(genuine_record, v1::REFUSED), &without).ok());
  ASSERT_TRUE(without.has_record());
  EXPECT_EQ(without.record().log_index(), genuine_record.log_index() + 2);
  v1::RecordDecisionRequest far = CraftedDecision(genuine_record, v1::ISSUED);
  far.set_sign_by_unix_milliseconds(std::numeric_limits<int64_t>::max());
  v1::RecordDecisionResponse far_response;
  const grpc::Status far_status = record(far, &far_response);
  ASSERT_TRUE(far_status.ok()) << far_status.error_message();
  ASSERT_TRUE(far_response.has_record());
  // ISSUED without Observations: the signer re-checks it and refuses; the record says so.
  EXPECT_EQ(far_response.record().decision(), v1::REFUSED);
  EXPECT_EQ(far_response.record().log_index(), genuine_record.log_index() + 3);
  EXPECT_EQ(Metric("coordinator", "mecai_coordinator_vouch_refused_total", kDeadlineExceeded), 3);
  ExpectTheLogVerifies();
}

}  // namespace
}  // namespace mecai
