// ProbeFanout's choice between Probe calls and the ProbeStream (docs/ARCHITECTURE.md "Probe
// streams") against scripted agents on loopback: one from before ProbeStream, and one that never
// answers. The answers' verification is the real agent's concern (tests/cluster_e2e_test.cc,
// tests/vouch_concurrency_test.cc); here the answers only need to arrive, or not.
#include "coordinator/probe_fanout.h"

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/crypto/pem.h"
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
    class Held final : public grpc::ServerUnaryReactor {
     public:
      void OnCancel() override { Finish(grpc::Status::CANCELLED); }
      void OnDone() override { delete this; }
    };
    {
      absl::MutexLock lock(&mutex_);
      ++calls_;
    }
    return new Held();
  }
  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* /*context*/) override {
    class Reader final
        : public grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse> {
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
      void OnCancel() override { Finish(grpc::Status::CANCELLED); }
      void OnDone() override { delete this; }

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

class ProbeFanoutTest : public ::testing::Test {
 protected:
  // Serves a `Service` made of `args`, kept until the server has shut down.
  template <typename Service, typename... Args>
  Service& Serve(Args... args) {
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
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    ASSERT_NE(key, nullptr);
    absl::StatusOr<std::string> key_file =
        test_pki::WriteTestFile(*directory, "agent.pub.pem", PublicKeyToPem(key));
    EVP_PKEY_free(key);
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

TEST_F(ProbeFanoutTest, ProbesThatAreNotAnsweredEndAtTheTimeoutCallsAndStreamedAlike) {
  SilentAgent& agent = Serve<SilentAgent>();
  const absl::Time start = absl::Now();
  std::vector<PerspectiveAnswer> answers = RunRounds(absl::Milliseconds(800));
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
  SilentAgent& agent = Serve<SilentAgent>();
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

}  // namespace
}  // namespace mecai
