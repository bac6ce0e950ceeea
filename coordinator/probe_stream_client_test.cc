// ProbeStreamClient against a scripted agent: a real gRPC server on loopback whose ProbeStream
// records what it receives and answers, breaks or ends the stream when the test says (the faults
// a real agent shows only by chance). The real agent's side is probe_agent/probe_service_test.cc.
#include "coordinator/probe_stream_client.h"

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "coordinator/coordinator_config.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace {

// What the scripted agent's streams received, and a way to answer on the last one.
class ScriptedAgent final : public v1::ProbeService::CallbackService,
                            public std::enable_shared_from_this<ScriptedAgent> {
 public:
  class Stream final
      : public grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse> {
   public:
    // Holds the agent: gRPC may call a stream's OnDone after the test has let go of the agent.
    explicit Stream(std::shared_ptr<ScriptedAgent> agent) : agent_(std::move(agent)) {
      StartRead(&request_);
    }

    void OnReadDone(bool ok) override {
      // The client half-closed or cancelled the stream: this agent ends it.
      if (!ok) return FinishOnce(grpc::Status::OK);
      {
        absl::MutexLock lock(&agent_->mutex_);
        for (const v1::StreamedProbe& probe : request_.probes()) {
          agent_->received_ids_.push_back(probe.id());
          agent_->received_timeouts_.push_back(probe.timeout_milliseconds());
        }
        for (uint64_t id : request_.cancelled_ids()) agent_->cancelled_ids_.push_back(id);
      }
      StartRead(&request_);
    }
    void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }
    // Finish, unless the test or a cancellation finished the stream already.
    void FinishOnce(const grpc::Status& status) {
      {
        absl::MutexLock lock(&agent_->mutex_);
        if (finished_) return;
        finished_ = true;
      }
      Finish(status);
    }
    void OnWriteDone(bool /*ok*/) override {
      absl::MutexLock lock(&agent_->mutex_);
      writing_ = false;
    }
    void OnDone() override {
      {
        absl::MutexLock lock(&agent_->mutex_);
        if (agent_->stream_ == this) agent_->stream_ = nullptr;
        --agent_->streams_alive_;
      }
      delete this;
    }

    const std::shared_ptr<ScriptedAgent> agent_;
    v1::ProbeStreamRequest request_;
    v1::ProbeStreamResponse response_;
    bool writing_ = false;   // Under agent_->mutex_.
    bool finished_ = false;  // Under agent_->mutex_.
  };

  grpc::ServerBidiReactor<v1::ProbeStreamRequest, v1::ProbeStreamResponse>* ProbeStream(
      grpc::CallbackServerContext* /*context*/) override {
    auto* stream = new Stream(shared_from_this());
    absl::MutexLock lock(&mutex_);
    stream_ = stream;
    ++streams_opened_;
    ++streams_alive_;
    return stream;
  }

  // Waits (at most 10 s) until every stream has ended: the test's client cancels its own when it
  // is destroyed, and this agent's reactors must be done before the server shuts down.
  void WaitUntilNoStreams() {
    absl::MutexLock lock(&mutex_);
    mutex_.AwaitWithTimeout(absl::Condition(
                                +[](int* alive) { return *alive == 0; }, &streams_alive_),
                            absl::Seconds(10));
  }

  // Wait until `count` probe ids (or cancelled ids) have arrived, at most 10 s.
  std::vector<uint64_t> WaitForProbes(size_t count) {
    absl::MutexLock lock(&mutex_);
    auto enough = [&] { return received_ids_.size() >= count; };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return received_ids_;
  }
  std::vector<uint64_t> WaitForCancelled(size_t count) {
    absl::MutexLock lock(&mutex_);
    auto enough = [&] { return cancelled_ids_.size() >= count; };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return cancelled_ids_;
  }

  // Writes `response` on the open stream and waits until it is written.
  void Answer(v1::ProbeStreamResponse response) {
    Stream* stream = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      stream = stream_;
      ASSERT_NE(stream, nullptr);
      stream->writing_ = true;
      stream->response_ = std::move(response);
    }
    stream->StartWrite(&stream->response_);
    absl::MutexLock lock(&mutex_);
    auto written = [&] { return stream_ != stream || !stream->writing_; };
    mutex_.AwaitWithTimeout(absl::Condition(&written), absl::Seconds(10));
  }

  // Ends the open stream with `status`.
  void End(const grpc::Status& status) {
    Stream* stream = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      stream = stream_;
    }
    ASSERT_NE(stream, nullptr);
    stream->FinishOnce(status);
  }

  int streams_opened() {
    absl::MutexLock lock(&mutex_);
    return streams_opened_;
  }
  std::vector<uint32_t> received_timeouts() {
    absl::MutexLock lock(&mutex_);
    return received_timeouts_;
  }

 private:
  absl::Mutex mutex_;
  Stream* stream_ ABSL_GUARDED_BY(mutex_) = nullptr;
  int streams_opened_ ABSL_GUARDED_BY(mutex_) = 0;
  int streams_alive_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<uint64_t> received_ids_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint32_t> received_timeouts_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> cancelled_ids_ ABSL_GUARDED_BY(mutex_);
};

// An agent from before ProbeStream: the generated service answers it UNIMPLEMENTED.
class UnaryOnlyAgent final : public v1::ProbeService::CallbackService {};

// Every answer one probe received.
struct Answers {
  absl::Mutex mutex;
  std::vector<grpc::Status> statuses ABSL_GUARDED_BY(mutex);
  std::vector<std::string> tbs ABSL_GUARDED_BY(mutex);

  ProbeStreamClient::ResultDone Done() {
    return [this](grpc::Status status, v1::SignedObservation observation) {
      absl::MutexLock lock(&mutex);
      statuses.push_back(std::move(status));
      tbs.push_back(observation.tbs());
    };
  }
  grpc::Status status(size_t i) {
    absl::MutexLock lock(&mutex);
    return i < statuses.size() ? statuses[i] : grpc::Status(grpc::StatusCode::UNKNOWN, "none");
  }
  std::string observation(size_t i) {
    absl::MutexLock lock(&mutex);
    return i < tbs.size() ? tbs[i] : "";
  }
  size_t count() {
    absl::MutexLock lock(&mutex);
    return statuses.size();
  }
  // Waits (at most 10 s) for `count` answers and returns how many came.
  size_t WaitFor(size_t count) {
    absl::MutexLock lock(&mutex);
    auto enough = [&] { return statuses.size() >= count; };
    mutex.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return statuses.size();
  }
};

v1::ProbeTask Task(const std::string& hostname) {
  v1::ProbeTask task;
  task.set_hostname(hostname);
  task.set_port(443);
  return task;
}

class ProbeStreamClientTest : public ::testing::Test {
 protected:
  // Serves a `Service` (kept until the server has shut down) on 127.0.0.1.
  template <typename Service>
  Service& Serve() {
    auto service = std::make_shared<Service>();
    Service& served = *service;
    service_ = std::move(service);
    if constexpr (std::is_same_v<Service, ScriptedAgent>) {
      drain_ = [&served] { served.WaitUntilNoStreams(); };
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr) << "the scripted agent did not start";
    stub_ = v1::ProbeService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                          grpc::InsecureChannelCredentials()));
    client_ = std::make_unique<ProbeStreamClient>(*stub_, "scripted-1 at 127.0.0.1");
    return served;
  }
  void TearDown() override {
    client_.reset();
    if (drain_) drain_();
    stub_.reset();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
  }

  int port_ = 0;
  std::shared_ptr<grpc::Service> service_;
  std::function<void()> drain_;  // Waits until the service's reactors are done.
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ProbeService::Stub> stub_;
  std::unique_ptr<ProbeStreamClient> client_;
};

v1::StreamedProbeResult Result(uint64_t id, int code, const std::string& text) {
  v1::StreamedProbeResult result;
  result.set_id(id);
  result.set_status_code(code);
  if (code == 0) {
    result.mutable_observation()->set_tbs(text);
  } else {
    result.set_status_message(text);
  }
  return result;
}

TEST_F(ProbeStreamClientTest, ResultsAreMatchedByIdInAnyOrderAndUnknownIdsAreIgnored) {
  ScriptedAgent& agent = Serve<ScriptedAgent>();
  Answers a, b;
  ProbeStreamClient::Ticket ticket_a =
      client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  ProbeStreamClient::Ticket ticket_b =
      client_->Probe(Task("b.test"), absl::Now() + absl::Milliseconds(1500), b.Done());
  ASSERT_EQ(agent.WaitForProbes(2).size(), 2u);
  // The budgets are the time left when the message was written.
  std::vector<uint32_t> timeouts = agent.received_timeouts();
  ASSERT_EQ(timeouts.size(), 2u);
  EXPECT_GE(timeouts[0], 4000u);
  EXPECT_LE(timeouts[0], 5000u);
  EXPECT_GE(timeouts[1], 500u);
  EXPECT_LE(timeouts[1], 1500u);
  EXPECT_NE(ticket_a.id, ticket_b.id);

  v1::ProbeStreamResponse response;
  *response.add_results() = Result(ticket_b.id, 0, "observation of b");
  *response.add_results() = Result(999999, 0, "nobody asked");
  *response.add_results() = Result(ticket_a.id, grpc::StatusCode::RESOURCE_EXHAUSTED, "busy");
  agent.Answer(response);
  ASSERT_EQ(a.WaitFor(1), 1u);
  ASSERT_EQ(b.WaitFor(1), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(a.status(0).error_message(), "busy");
  EXPECT_TRUE(b.status(0).ok());
  EXPECT_EQ(b.observation(0), "observation of b");
  EXPECT_EQ(agent.streams_opened(), 1);
}

TEST_F(ProbeStreamClientTest, CancelAnswersAtOnceTellsTheAgentAndALateResultIsIgnored) {
  ScriptedAgent& agent = Serve<ScriptedAgent>();
  Answers a;
  ProbeStreamClient::Ticket ticket =
      client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  ASSERT_EQ(agent.WaitForProbes(1).size(), 1u);
  ProbeStreamClient::Cancel(ticket, grpc::Status(grpc::StatusCode::CANCELLED, "not awaited"));
  ASSERT_EQ(a.WaitFor(1), 1u);
  EXPECT_EQ(agent.WaitForCancelled(1), std::vector<uint64_t>{ticket.id});
  // Once more, and the agent's own answer after it: neither reaches `done` again.
  ProbeStreamClient::Cancel(ticket, grpc::Status(grpc::StatusCode::CANCELLED, "again"));
  v1::ProbeStreamResponse response;
  *response.add_results() = Result(ticket.id, grpc::StatusCode::CANCELLED, "stopped");
  agent.Answer(response);
  // A probe after it still works on the same stream.
  Answers b;
  ProbeStreamClient::Ticket next =
      client_->Probe(Task("b.test"), absl::Now() + absl::Seconds(5), b.Done());
  ASSERT_EQ(agent.WaitForProbes(2).size(), 2u);
  v1::ProbeStreamResponse second;
  *second.add_results() = Result(next.id, 0, "b");
  agent.Answer(second);
  ASSERT_EQ(b.WaitFor(1), 1u);
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(a.status(0).error_message(), "not awaited");
  EXPECT_EQ(agent.streams_opened(), 1);
}

TEST_F(ProbeStreamClientTest, AStreamThatEndsAnswersItsProbesAndTheNextProbeOpensANewOne) {
  ScriptedAgent& agent = Serve<ScriptedAgent>();
  Answers a, b;
  client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  client_->Probe(Task("b.test"), absl::Now() + absl::Seconds(5), b.Done());
  ASSERT_EQ(agent.WaitForProbes(2).size(), 2u);
  agent.End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent restarting"));
  ASSERT_EQ(a.WaitFor(1), 1u);
  ASSERT_EQ(b.WaitFor(1), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(a.status(0).error_message(), "agent restarting");

  // An agent that ends the stream "cleanly" with a probe unanswered: still an answer.
  Answers c;
  client_->Probe(Task("c.test"), absl::Now() + absl::Seconds(5), c.Done());
  ASSERT_EQ(agent.WaitForProbes(3).size(), 3u);
  EXPECT_EQ(agent.streams_opened(), 2);
  agent.End(grpc::Status::OK);
  ASSERT_EQ(c.WaitFor(1), 1u);
  EXPECT_EQ(c.status(0).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(c.status(0).error_message(), "the agent ended the probe stream before answering");
  EXPECT_FALSE(client_->unimplemented());
}

TEST_F(ProbeStreamClientTest, AnAgentWithoutProbeStreamIsMarkedUnimplemented) {
  Serve<UnaryOnlyAgent>();
  Answers a;
  client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  ASSERT_EQ(a.WaitFor(1), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(client_->unimplemented());
}

TEST_F(ProbeStreamClientTest, AnUnreachableAgentAnswersUnavailable) {
  Serve<ScriptedAgent>();
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  Answers a;
  client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  ASSERT_EQ(a.WaitFor(1), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ProbeStreamClientTest, DestroyingTheClientAnswersItsProbesCancelled) {
  ScriptedAgent& agent = Serve<ScriptedAgent>();
  Answers a;
  client_->Probe(Task("a.test"), absl::Now() + absl::Seconds(5), a.Done());
  ASSERT_EQ(agent.WaitForProbes(1).size(), 1u);
  client_.reset();
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(a.status(0).error_code(), grpc::StatusCode::CANCELLED);
}

// A stream carries a probe that must end within the longest probe timeout a config allows, and no
// longer one (docs/ARCHITECTURE.md "Probe streams", Stream lifetime).
TEST(ProbeStreamClientCarriesTest, UpToTheLongestConfiguredProbeTimeoutAndNoLonger) {
  EXPECT_TRUE(ProbeStreamClient::Carries(absl::Now()));
  EXPECT_TRUE(ProbeStreamClient::Carries(absl::Now() + ProbeStreamClient::kMaxStreamedProbeTime));
  EXPECT_FALSE(ProbeStreamClient::Carries(absl::Now() + ProbeStreamClient::kMaxStreamedProbeTime +
                                          absl::Milliseconds(100)));
  EXPECT_EQ(ProbeStreamClient::kMaxStreamedProbeTime,
            absl::Milliseconds(kMaxProbeTimeoutMilliseconds));
}

}  // namespace
}  // namespace mecai
