// ProbeFanout's choice between Probe calls and the ProbeStream (docs/ARCHITECTURE.md "Probe
// streams") against scripted agents on loopback: one from before ProbeStream, one that never
// answers, and one that answers each streamed probe with the Observation it signed for another.
// The real agent's answers are verified in tests/cluster_e2e_test.cc and
// tests/vouch_concurrency_test.cc.
#include "coordinator/probe_fanout.h"

#include <openssl/evp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/testing/test_pki.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace {

// Kicks off kRounds rounds at once: kStreamFromProbesInFlight go as calls, the rest on the stream.
constexpr int kRounds = ProbeFanout::kStreamFromProbesInFlight + 4;

// Holds every Probe call until `release_at` have arrived, then answers them all with an
// Observation that verifies against nothing. Serves no ProbeStream (UNIMPLEMENTED), as an agent
// from before it.
class AgentWithoutStreams final : public v1::ProbeService::CallbackService {
 public:
  explicit AgentWithoutStreams(int release_at) : release_at_(release_at) {}

  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* context,
                                  const v1::ProbeRequest* /*request*/,
                                  v1::ProbeResponse* response) override {
    response->mutable_observation()->set_tbs("not signed");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::vector<grpc::ServerUnaryReactor*> release;
    {
      absl::MutexLock lock(&mutex_);
      held_.push_back(reactor);
      if (static_cast<int>(held_.size()) == release_at_) release.swap(held_);
      ++calls_;
    }
    for (grpc::ServerUnaryReactor* held : release) held->Finish(grpc::Status::OK);
    return reactor;
  }

  // As the generated service answers it, but counted.
  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* /*context*/) override {
    class Unimplemented final
        : public grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse> {
     public:
      Unimplemented() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")); }
      void OnDone() override { delete this; }
    };
    {
      absl::MutexLock lock(&mutex_);
      ++streams_;
    }
    return new Unimplemented();
  }

  int calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }
  int streams() {
    absl::MutexLock lock(&mutex_);
    return streams_;
  }

 private:
  const int release_at_;
  absl::Mutex mutex_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mutex_);
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
  int streams_ ABSL_GUARDED_BY(mutex_) = 0;
};

// A scripted agent's reactor (`Reactor` is a gRPC server reactor class), finished once and
// deleted by the last of OnDone and the thread that called Finish: gRPC may run OnDone on another
// thread while that one is still inside Finish (the real agent's probe_agent/probe_stream.cc does
// the same).
template <typename Reactor>
class FinishedOnce : public Reactor {
 public:
  void OnDone() override { Release(); }

 protected:
  void FinishOnce(grpc::Status status) {
    if (finished_.exchange(true)) return;
    this->Finish(std::move(status));
    Release();
  }

 private:
  void Release() {
    if (releases_left_.fetch_sub(1) == 1) delete this;
  }
  std::atomic<bool> finished_{false};
  std::atomic<int> releases_left_{2};
};
using ScriptedStream =
    FinishedOnce<grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>>;

// Answers nothing: Probe calls end by their deadline, streamed probes by the round's alarm.
class SilentAgent final : public v1::ProbeService::CallbackService,
                          public std::enable_shared_from_this<SilentAgent> {
 public:
  // Probes received on streams, and Probe calls.
  int streamed() {
    absl::MutexLock lock(&mutex_);
    return streamed_;
  }
  int calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }

  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* /*context*/,
                                  const v1::ProbeRequest* /*request*/,
                                  v1::ProbeResponse* /*response*/) override {
    // Finished when the client's deadline cancels it (a reactor must still be finished).
    class Held final : public FinishedOnce<grpc::ServerUnaryReactor> {
     public:
      void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }
    };
    {
      absl::MutexLock lock(&mutex_);
      ++calls_;
    }
    return new Held();
  }
  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* /*context*/) override {
    class Reader final : public ScriptedStream {
     public:
      // Holds the agent: gRPC may end a stream after the test has let go of the agent.
      explicit Reader(std::shared_ptr<SilentAgent> agent) : agent_(std::move(agent)) {
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) return;
        {
          absl::MutexLock lock(&agent_->mutex_);
          agent_->streamed_ += request_.probes_size();
        }
        StartRead(&request_);
      }
      void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

     private:
      const std::shared_ptr<SilentAgent> agent_;
      v1::ProbeStreamRequest request_;
    };
    return new Reader(shared_from_this());
  }

 private:
  absl::Mutex mutex_;
  int streamed_ ABSL_GUARDED_BY(mutex_) = 0;
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
};

// What the agent of the fixture, "scripted-1a", signs for `task`: a handshake that served the
// leaf "leaf" at its one address.
v1::SignedObservation ObservationFor(EVP_PKEY* key, const v1::ProbeTask& task) {
  v1::ObservationBody body;
  body.mutable_perspective()->set_id("scripted-1a");
  body.mutable_perspective()->set_region("scripted-1");
  body.set_hostname(task.hostname());
  body.set_port(task.port());
  body.set_vouching_request_sha256(task.vouching_request_sha256());
  body.set_nonce(task.nonce());
  const int64_t now = absl::ToUnixMillis(absl::Now());
  body.set_started_at_unix_milliseconds(now - 10);
  body.set_finished_at_unix_milliseconds(now);
  body.set_outcome(v1::PROBE_OK);
  body.add_resolved_addresses("192.0.2.1");
  v1::AddressObservation* address = body.add_addresses();
  address->set_address("192.0.2.1");
  address->set_outcome(v1::PROBE_OK);
  address->set_leaf_sha256(Sha256("leaf"));
  v1::SignedObservation observation;
  observation.set_tbs(body.SerializeAsString());
  absl::StatusOr<v1::Signature> signature =
      SignBytes(key, v1::ED25519, SignedMessage(SignedObject::kObservation, observation.tbs()));
  EXPECT_TRUE(signature.ok()) << signature.status();
  if (signature.ok()) *observation.mutable_signature() = *signature;
  return observation;
}

// An agent that signs true Observations but answers every streamed probe with the one it signed
// for the next streamed probe's task (the last with the first's): what a compromised or buggy
// agent could send on a stream, where only the id says which probe a result answers. Its Probe
// calls are held until `streamed` probes have come on the stream, then answered truly.
class CrossingAgent final : public v1::ProbeService::CallbackService,
                            public std::enable_shared_from_this<CrossingAgent> {
 public:
  CrossingAgent(EVP_PKEY* key, int streamed) : key_(key), streamed_(streamed) {}

  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* context,
                                  const v1::ProbeRequest* request,
                                  v1::ProbeResponse* response) override {
    *response->mutable_observation() = ObservationFor(key_, request->task());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      absl::MutexLock lock(&mutex_);
      if (!released_) {
        held_.push_back(reactor);
        return reactor;
      }
    }
    // A call that comes after the streamed probes (calls are not ordered among themselves).
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // Answers the calls held so far, and every later one at once.
  void ReleaseCalls() {
    std::vector<grpc::ServerUnaryReactor*> release;
    {
      absl::MutexLock lock(&mutex_);
      released_ = true;
      release.swap(held_);
    }
    for (grpc::ServerUnaryReactor* held : release) held->Finish(grpc::Status::OK);
  }

  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* /*context*/) override {
    class Crossing final : public ScriptedStream {
     public:
      explicit Crossing(std::shared_ptr<CrossingAgent> agent) : agent_(std::move(agent)) {
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) return FinishOnce(grpc::Status::OK);
        for (const v1::StreamedProbe& probe : request_.probes()) probes_.push_back(probe);
        if (static_cast<int>(probes_.size()) < agent_->streamed_) return StartRead(&request_);
        for (size_t i = 0; i < probes_.size(); ++i) {
          v1::StreamedProbeResult* result = response_.add_results();
          result->set_id(probes_[i].id());
          *result->mutable_observation() =
              ObservationFor(agent_->key_, probes_[(i + 1) % probes_.size()].task());
        }
        agent_->ReleaseCalls();
        // The client half-closes or cancels the stream once it has its answers.
        StartWrite(&response_);
      }
      void OnWriteDone(bool /*ok*/) override { StartRead(&request_); }

     private:
      const std::shared_ptr<CrossingAgent> agent_;
      v1::ProbeStreamRequest request_;
      v1::ProbeStreamResponse response_;
      std::vector<v1::StreamedProbe> probes_;
    };
    return new Crossing(shared_from_this());
  }

 private:
  EVP_PKEY* const key_;
  const int streamed_;
  absl::Mutex mutex_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mutex_);
  bool released_ ABSL_GUARDED_BY(mutex_) = false;
};

class ProbeFanoutTest : public ::testing::Test {
 protected:
  // Serves a `Service` made of `args`, kept until the server has shut down.
  template <typename Service, typename... Args>
  Service& Serve(Args... args) {
    EXPECT_NE(agent_key_, nullptr);
    auto service = std::make_shared<Service>(args...);
    service_ = service;
    Start(service.get());
    return *service;
  }

  void Start(grpc::Service* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);

    absl::StatusOr<std::string> directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok()) << directory.status();
    absl::StatusOr<std::string> key_file =
        test_pki::WriteTestFile(*directory, "agent.pub.pem", PublicKeyToPem(agent_key_.get()));
    ASSERT_TRUE(key_file.ok()) << key_file.status();
    v1::AgentEndpoint& endpoint = *endpoints_.Add();
    endpoint.mutable_perspective()->set_id("scripted-1a");
    endpoint.mutable_perspective()->set_region("scripted-1");
    endpoint.mutable_peer()->set_address("127.0.0.1:" + std::to_string(port));
    endpoint.mutable_peer()->set_insecure_plaintext_for_local_development(true);
    endpoint.set_public_key_file(*key_file);
    absl::StatusOr<std::unique_ptr<EnrolledAgents>> enrolled = EnrolledAgents::Load(endpoints_);
    ASSERT_TRUE(enrolled.ok()) << enrolled.status();
    enrolled_ = std::move(*enrolled);
    absl::StatusOr<std::unique_ptr<ProbeFanout>> fanout =
        ProbeFanout::Create(endpoints_, *enrolled_, SystemClock::Get());
    ASSERT_TRUE(fanout.ok()) << fanout.status();
    fanout_ = std::move(*fanout);
  }

  void TearDown() override {
    fanout_.reset();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
  }

  // Starts kRounds rounds at once with `timeout` and returns each round's one answer, waiting at
  // most 30 s; a round that did not end has an answer with failure "no answer".
  std::vector<PerspectiveAnswer> RunRounds(absl::Duration timeout,
                                           absl::Time cancel_at = absl::InfiniteFuture()) {
    // Shared with the rounds' callbacks, which may outlive this call.
    struct Collected {
      absl::Mutex mutex;
      std::vector<PerspectiveAnswer> answers ABSL_GUARDED_BY(mutex);
    };
    auto collected = std::make_shared<Collected>();
    v1::ProbeTask task;
    task.set_hostname("www.example.test");
    task.set_port(443);
    for (int i = 0; i < kRounds; ++i) {
      fanout_->ProbeAllAsync(
          task, ObservationExpectation(), {}, timeout,
          [collected](std::vector<PerspectiveAnswer> round) {
            absl::MutexLock lock(&collected->mutex);
            collected->answers.push_back(std::move(round.at(0)));
          },
          cancel_at);
    }
    absl::MutexLock lock(&collected->mutex);
    std::vector<PerspectiveAnswer>& answers = collected->answers;
    auto all = [&] { return static_cast<int>(answers.size()) >= kRounds; };
    collected->mutex.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30));
    std::vector<PerspectiveAnswer> result = answers;
    while (static_cast<int>(result.size()) < kRounds) {
      result.emplace_back().outcome.failure = "no answer";
    }
    return result;
  }

  // The scripted agent's signing key, enrolled for "scripted-1a".
  const EvpPkeyPtr agent_key_{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")};
  google::protobuf::RepeatedPtrField<v1::AgentEndpoint> endpoints_;
  std::unique_ptr<EnrolledAgents> enrolled_;
  std::shared_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ProbeFanout> fanout_;
};

TEST_F(ProbeFanoutTest, AnAgentWithoutStreamsGetsEveryProbeAsACall) {
  // The agent answers once every round's probe has reached it as a call: the streamed ones too,
  // after their stream was answered UNIMPLEMENTED.
  AgentWithoutStreams& agent = Serve<AgentWithoutStreams>(kRounds);
  std::vector<PerspectiveAnswer> answers = RunRounds(absl::Seconds(20));
  EXPECT_EQ(agent.calls(), kRounds);
  EXPECT_GE(agent.streams(), 1);  // The probes beyond 16 tried the stream first.
  for (const PerspectiveAnswer& answer : answers) {
    // The Observation arrived (and, unsigned, did not verify): not unreachable.
    EXPECT_EQ(answer.outcome.kind, PerspectiveOutcome::Kind::kInvalid) << answer.outcome.failure;
  }
}

TEST_F(ProbeFanoutTest, AProbeThatMayRunLongerThanAStreamCarriesGoesAsACall) {
  // More than kStreamFromProbesInFlight probes at once, but each may run longer than a stream
  // carries one (so that no stream outlives its connection's grace): none tries the stream.
  AgentWithoutStreams& agent = Serve<AgentWithoutStreams>(kRounds);
  std::vector<PerspectiveAnswer> answers =
      RunRounds(ProbeStreamClient::kMaxStreamedProbeTime + absl::Seconds(1));
  EXPECT_EQ(agent.calls(), kRounds);
  EXPECT_EQ(agent.streams(), 0);
  for (const PerspectiveAnswer& answer : answers) {
    EXPECT_EQ(answer.outcome.kind, PerspectiveOutcome::Kind::kInvalid) << answer.outcome.failure;
  }
}

TEST_F(ProbeFanoutTest, ProbesThatAreNotAnsweredEndAtTheTimeoutCallsAndStreamedAlike) {
  SilentAgent& agent = Serve<SilentAgent>();
  const absl::Time start = absl::Now();
  std::vector<PerspectiveAnswer> answers = RunRounds(absl::Seconds(2));
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_EQ(agent.calls(), ProbeFanout::kStreamFromProbesInFlight);
  EXPECT_EQ(agent.streamed(), kRounds - ProbeFanout::kStreamFromProbesInFlight);
  for (const PerspectiveAnswer& answer : answers) {
    EXPECT_EQ(answer.outcome.kind, PerspectiveOutcome::Kind::kUnreachable);
    EXPECT_EQ(answer.outcome.failure,
              "agent at " + endpoints_[0].peer().address() + ": deadline exceeded");
  }
}

TEST_F(ProbeFanoutTest, ProbesStillRunningAtTheVrDeadlineAreCancelledCallsAndStreamedAlike) {
  Serve<SilentAgent>();
  const absl::Time start = absl::Now();
  // The VR's deadline comes long before the probes' 20 s: every probe ends then, whether it went
  // as a call or on the stream, and whether or not it had been written yet.
  std::vector<PerspectiveAnswer> answers =
      RunRounds(absl::Seconds(20), absl::Now() + absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  for (const PerspectiveAnswer& answer : answers) {
    EXPECT_EQ(answer.outcome.kind, PerspectiveOutcome::Kind::kUnreachable);
    EXPECT_EQ(answer.outcome.failure, "agent at " + endpoints_[0].peer().address() + ": CANCELLED");
  }
}

TEST_F(ProbeFanoutTest, AStreamedResultCarryingAnotherProbesObservationIsRefused) {
  // Each round probes its own VR: its own digest and nonce, to which its Observation must be bound.
  constexpr int kStreamed = kRounds - ProbeFanout::kStreamFromProbesInFlight;
  CrossingAgent& agent = Serve<CrossingAgent>(agent_key_.get(), kStreamed);
  struct Collected {
    absl::Mutex mutex;
    std::vector<PerspectiveAnswer> answers ABSL_GUARDED_BY(mutex);
    int answered ABSL_GUARDED_BY(mutex) = 0;
  };
  auto collected = std::make_shared<Collected>();
  {
    absl::MutexLock lock(&collected->mutex);
    collected->answers.resize(kRounds);
  }
  for (int i = 0; i < kRounds; ++i) {
    v1::ProbeTask task;
    task.set_hostname("www.example.test");
    task.set_port(443);
    task.set_vouching_request_sha256(Sha256("VR " + std::to_string(i)));
    task.set_nonce(Sha256("nonce " + std::to_string(i)).substr(0, 16));
    ObservationExpectation expected;
    expected.request_sha256 = task.vouching_request_sha256();
    expected.nonce = task.nonce();
    expected.hostname = task.hostname();
    expected.port = task.port();
    fanout_->ProbeAllAsync(task, expected, {Sha256("leaf")}, absl::Seconds(20),
                           [collected, i](std::vector<PerspectiveAnswer> round) {
                             absl::MutexLock lock(&collected->mutex);
                             collected->answers[i] = std::move(round.at(0));
                             ++collected->answered;
                           });
  }
  absl::MutexLock lock(&collected->mutex);
  auto all = [&] { return collected->answered == kRounds; };
  const bool answered = collected->mutex.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30));
  agent.ReleaseCalls();  // Should the stream not have had its probes: the server can shut down.
  ASSERT_TRUE(answered);
  for (int i = 0; i < kRounds; ++i) {
    const PerspectiveOutcome& outcome = collected->answers[i].outcome;
    if (i < ProbeFanout::kStreamFromProbesInFlight) {
      // The calls, answered truly: the same Observations verify when they answer their own probe.
      EXPECT_EQ(outcome.kind, PerspectiveOutcome::Kind::kObserved) << i << ": " << outcome.failure;
    } else {
      // Signed by the enrolled agent, for this very host and port, but bound to another VR.
      EXPECT_EQ(outcome.kind, PerspectiveOutcome::Kind::kInvalid) << i;
      EXPECT_NE(outcome.failure.find("another"), std::string::npos) << i << ": " << outcome.failure;
    }
  }
}

}  // namespace
}  // namespace mecai
