// The probe agent against a compromised coordinator: this test holds the coordinator's own
// mutual-TLS identity (from the coordinator's config file of a LocalCluster) and calls the REAL
// probe_agent binary's ProbeService.ProbeStream (docs/ARCHITECTURE.md "Probe streams") with what a
// coordinator under an attacker's control could send: bytes crafted by hand that protobuf's parser
// refuses or reads other than a coordinator would write them, and well-formed messages beyond the
// stream's bounds (docs/SECURITY.md T7, and T10 for the crafted bytes). The agent must answer each
// as the stream's contract says, start nothing it refuses, sign at most one Observation per VR and
// keep serving; a caller without the coordinator's identity gets no stream at all (trust rule 7).
// Each attack is checked against a well-formed probe that the agent answers with an Observation
// that verifies, so that a refusal is the agent's and not a broken test.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/evidence/enrolled_agents.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::mecai::test_support::PlainTcpTestServer;
using ::testing::HasSubstr;
using ProbeStream = grpc::ClientReaderWriter<v1::ProbeStreamRequest, v1::ProbeStreamResponse>;

constexpr char kProbeStreamMethod[] = "/mecai.v1.ProbeService/ProbeStream";
// Every call's deadline: no call of this test waits longer.
constexpr absl::Duration kCallTimeout = absl::Seconds(30);
// A streamed probe's budget (StreamedProbe.timeout_milliseconds), within the call's deadline.
constexpr uint32_t kBudgetMilliseconds = 20000;
// The agents' TLS handshake timeout (ProbeAgentConfig.handshake_timeout_milliseconds, at most
// 60 s): a probe of a listener that never answers then runs until its budget or its cancellation,
// however slowly this machine runs.
constexpr uint32_t kHandshakeTimeoutMilliseconds = 60000;
// Protobuf's wire types: a varint, a length-delimited field, the end of a group.
constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;
constexpr int kEndGroup = 4;

// Protobuf's wire format, written by hand so that a message can break it.
std::string Varint(uint64_t value) {
  std::string bytes;
  while (value >= 0x80) {
    bytes.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  bytes.push_back(static_cast<char>(value));
  return bytes;
}

std::string Key(int field, int wire_type) {
  return Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

std::string LengthDelimited(int field, const std::string& bytes) {
  return Key(field, kLengthDelimited) + Varint(bytes.size()) + bytes;
}

void* Tag(intptr_t number) { return reinterpret_cast<void*>(number); }

// How a stream ended: the agent's status and every result it sent; `sent` is false when gRPC
// refused a write or the half-close (the agent may end a stream before taking its message).
struct StreamEnd {
  grpc::Status status;
  std::vector<v1::StreamedProbeResult> results;
  bool sent = true;
};

class CompromisedCoordinatorAgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    options.agent_overrides.set_handshake_timeout_milliseconds(kHandshakeTimeoutMilliseconds);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("cluster", options));
    cluster_ = cluster.release();
    // The first agent's address and the coordinator's identity, exactly as the coordinator has
    // them, and the agents' Observation keys as the coordinator and the signer enrol them.
    ASSERT_OK_AND_ASSIGN(
        v1::CoordinatorConfig config,
        LoadConfig<v1::CoordinatorConfig>(cluster_->Path("coordinator.textproto")));
    ASSERT_GE(config.agents_size(), 1);
    agent_ = new v1::AgentEndpoint(config.agents(0));
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, MakeChannel(agent_->peer()));
    channel_ = new std::shared_ptr<grpc::Channel>(channel);
    stub_ = v1::ProbeService::NewStub(channel).release();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EnrolledAgents> enrolled,
                         EnrolledAgents::Load(config.agents()));
    enrolled_ = enrolled.release();
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> leaf,
                         LoadPemCertificatesAsDer(cluster_->ServerLeafFile()));
    ASSERT_FALSE(leaf.empty());
    served_leaf_sha256_ = new std::string(Sha256(leaf.front()));
  }

  static void TearDownTestSuite() {
    delete served_leaf_sha256_;
    delete enrolled_;
    delete stub_;
    delete channel_;
    delete agent_;
    delete cluster_;
  }

  static std::chrono::system_clock::time_point Deadline() {
    return absl::ToChronoTime(absl::Now() + kCallTimeout);
  }

  static const std::string& AgentId() { return agent_->perspective().id(); }

  // A task of the cluster's TLS target for a VR no probe of this test named before (a fresh
  // 32-byte digest), with a fresh 16-byte nonce: an agent probes each VR once.
  static v1::ProbeTask FreshTask() {
    static int tasks = 0;
    const std::string vr = absl::StrCat("VR ", ++tasks, " at ", absl::ToUnixNanos(absl::Now()));
    v1::ProbeTask task;
    task.set_hostname(LocalCluster::kTargetHost);
    task.set_port(static_cast<uint32_t>(cluster_->target_port()));
    task.set_vouching_request_sha256(Sha256(vr));
    task.set_nonce(Sha256("the nonce of " + vr).substr(0, 16));
    return task;
  }

  static v1::StreamedProbe Streamed(uint64_t id, const v1::ProbeTask& task) {
    v1::StreamedProbe probe;
    probe.set_id(id);
    *probe.mutable_task() = task;
    probe.set_timeout_milliseconds(kBudgetMilliseconds);
    return probe;
  }

  // A ProbeStreamRequest of one probe, serialized as the coordinator writes it.
  static std::string OneProbe(uint64_t id, const v1::ProbeTask& task) {
    v1::ProbeStreamRequest request;
    *request.add_probes() = Streamed(id, task);
    return request.SerializeAsString();
  }

  // Expects `observation` to be signed by the agent's enrolled key and bound to `task`
  // (docs/ARCHITECTURE.md §1 signer), made at the cluster's real target.
  static void ExpectObservationOf(const v1::SignedObservation& observation,
                                  const v1::ProbeTask& task) {
    ObservationExpectation expected;
    expected.request_sha256 = task.vouching_request_sha256();
    expected.nonce = task.nonce();
    expected.hostname = task.hostname();
    expected.port = task.port();
    expected.now = absl::Now();
    absl::StatusOr<v1::ObservationBody> body = enrolled_->Verify(AgentId(), observation, expected);
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_EQ(body->outcome(), v1::PROBE_OK) << body->ShortDebugString();
    ASSERT_GE(body->addresses_size(), 1);
    for (const v1::AddressObservation& address : body->addresses()) {
      EXPECT_EQ(address.leaf_sha256(), *served_leaf_sha256_) << address.address();
    }
  }

  // Expects `result` to be OK with such an Observation.
  static void ExpectObservationOf(const v1::StreamedProbeResult& result,
                                  const v1::ProbeTask& task) {
    EXPECT_EQ(result.status_code(), 0) << result.status_message();
    ExpectObservationOf(result.observation(), task);
  }

  // Every result the agent sends until it ends the stream.
  static std::vector<v1::StreamedProbeResult> ReadToEnd(ProbeStream& stream) {
    return ReadResults(stream, SIZE_MAX);
  }

  // Results until `count` have come or the agent ends the stream.
  static std::vector<v1::StreamedProbeResult> ReadResults(ProbeStream& stream, size_t count) {
    std::vector<v1::StreamedProbeResult> results;
    v1::ProbeStreamResponse response;
    while (results.size() < count && stream.Read(&response)) {
      for (v1::StreamedProbeResult& result : *response.mutable_results()) {
        results.push_back(std::move(result));
      }
    }
    return results;
  }

  static std::map<uint64_t, v1::StreamedProbeResult> ById(
      const std::vector<v1::StreamedProbeResult>& results) {
    std::map<uint64_t, v1::StreamedProbeResult> by_id;
    for (const v1::StreamedProbeResult& result : results) by_id[result.id()] = result;
    return by_id;
  }

  // Probes `task` on a stream of its own, as the coordinator does (the probe, the half-close, the
  // result, the end); the one result, or an empty one when none came.
  static v1::StreamedProbeResult ProbeOnStream(const v1::ProbeTask& task) {
    v1::ProbeStreamRequest request;
    *request.add_probes() = Streamed(1, task);
    const StreamEnd end = SendAndHalfClose(*stub_, request);
    EXPECT_TRUE(end.sent);
    EXPECT_TRUE(end.status.ok()) << end.status.error_code() << ": " << end.status.error_message();
    EXPECT_EQ(end.results.size(), 1u);
    if (end.results.empty()) return v1::StreamedProbeResult();
    EXPECT_EQ(end.results[0].id(), 1u);
    return end.results[0];
  }

  // Sends `request` on a stream of its own through `stub` and half-closes it, as the coordinator
  // does, then reads to the end.
  static StreamEnd SendAndHalfClose(v1::ProbeService::Stub& stub,
                                    const v1::ProbeStreamRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    std::unique_ptr<ProbeStream> stream = stub.ProbeStream(&context);
    StreamEnd end;
    end.sent = stream->Write(request);
    end.sent = stream->WritesDone() && end.sent;
    end.results = ReadToEnd(*stream);
    end.status = stream->Finish();
    return end;
  }

  // A fresh VR probed on a stream gets its Observation: the agent still serves.
  static void ExpectTheAgentStillServes() {
    const v1::ProbeTask task = FreshTask();
    ExpectObservationOf(ProbeOnStream(task), task);
  }

  // Expects `task`'s VR to be free: probed now, it gets its Observation. A probe of it started
  // before would have been answered with an Observation (the target serves), and the agent refuses
  // a VR it signed an Observation for (docs/SECURITY.md T7).
  static void ExpectNothingStartedFor(const v1::ProbeTask& task) {
    ExpectObservationOf(ProbeOnStream(task), task);
  }

  // From the agent's metrics: the probes it answered, refusals included; the VRs it remembers; the
  // probes it refused for a VR it had probed. A counter with no sample yet is 0.
  struct Counters {
    double probes = 0;
    double remembered_vrs = 0;
    double repeated_vrs_refused = 0;
  };
  static Counters AgentCounters() {
    absl::StatusOr<std::string> text = FetchMetrics(*cluster_, AgentId());
    EXPECT_TRUE(text.ok()) << text.status();
    Counters counters;
    if (!text.ok()) return counters;
    counters.probes = std::max(0.0, SumOfSamples(*text, "mecai_probe_agent_probes_total", ""));
    counters.remembered_vrs =
        std::max(0.0, SumOfSamples(*text, "mecai_probe_agent_remembered_vrs", ""));
    counters.repeated_vrs_refused =
        std::max(0.0, SumOfSamples(*text, "mecai_probe_agent_repeated_vr_refusals_total",
                                   "reason=\"already_probed\""));
    return counters;
  }

  // Opens a ProbeStream with the generic stub, which sends each of `messages` byte for byte as one
  // message (the agent's parser gets exactly these bytes), half-closes it when `half_close`, and
  // reads until the agent ends it. The call's deadline ends every operation.
  static StreamEnd SendRawMessages(const std::vector<std::string>& messages,
                                   bool half_close = true) {
    StreamEnd end;
    grpc::GenericStub generic(*channel_);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::CompletionQueue queue;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
        generic.PrepareCall(&context, kProbeStreamMethod, &queue);
    // Waits for the one operation outstanding, `tag`; the queue's own bound only backs up the
    // call's deadline.
    const auto await = [&](intptr_t tag) {
      void* done = nullptr;
      bool ok = false;
      if (queue.AsyncNext(&done, &ok, absl::ToChronoTime(absl::Now() + 2 * kCallTimeout)) !=
          grpc::CompletionQueue::GOT_EVENT) {
        ADD_FAILURE() << "operation " << tag << " outlived the call's deadline";
        context.TryCancel();
        queue.Next(&done, &ok);
      }
      EXPECT_EQ(done, Tag(tag));
      return ok;
    };
    call->StartCall(Tag(1));
    bool open = await(1);
    for (const std::string& bytes : messages) {
      if (!open) break;
      grpc::Slice slice(bytes);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, Tag(2));
      open = await(2);
    }
    if (open && half_close) {
      call->WritesDone(Tag(3));
      await(3);
    }
    for (;;) {
      grpc::ByteBuffer received;
      call->Read(&received, Tag(4));
      if (!await(4)) break;
      v1::ProbeStreamResponse response;
      EXPECT_TRUE(
          grpc::SerializationTraits<v1::ProbeStreamResponse>::Deserialize(&received, &response)
              .ok());
      for (v1::StreamedProbeResult& result : *response.mutable_results()) {
        end.results.push_back(std::move(result));
      }
    }
    call->Finish(&end.status, Tag(5));
    await(5);
    queue.Shutdown();
    void* left = nullptr;
    bool ok = false;
    while (queue.Next(&left, &ok)) {
    }
    return end;
  }

  static LocalCluster* cluster_;
  static v1::AgentEndpoint* agent_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static v1::ProbeService::Stub* stub_;
  static EnrolledAgents* enrolled_;
  static std::string* served_leaf_sha256_;
};

LocalCluster* CompromisedCoordinatorAgentTest::cluster_ = nullptr;
v1::AgentEndpoint* CompromisedCoordinatorAgentTest::agent_ = nullptr;
std::shared_ptr<grpc::Channel>* CompromisedCoordinatorAgentTest::channel_ = nullptr;
v1::ProbeService::Stub* CompromisedCoordinatorAgentTest::stub_ = nullptr;
EnrolledAgents* CompromisedCoordinatorAgentTest::enrolled_ = nullptr;
std::string* CompromisedCoordinatorAgentTest::served_leaf_sha256_ = nullptr;

// The control of every attack below: a well-formed probe of the real target, on a stream opened
// with the coordinator's identity, is answered under its id with an Observation of the served
// certificate that the agent's enrolled key signed, bound to the probe's VR and nonce.
TEST_F(CompromisedCoordinatorAgentTest, AWellFormedProbeGetsAnObservationThatVerifies) {
  const v1::ProbeTask task = FreshTask();
  ASSERT_EQ(task.vouching_request_sha256().size(), 32u);
  ASSERT_EQ(task.nonce().size(), 16u);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  std::unique_ptr<ProbeStream> stream = stub_->ProbeStream(&context);
  v1::ProbeStreamRequest request;
  *request.add_probes() = Streamed(41, task);
  ASSERT_TRUE(stream->Write(request));
  std::vector<v1::StreamedProbeResult> results = ReadResults(*stream, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id(), 41u);
  ExpectObservationOf(results[0], task);
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(ReadToEnd(*stream).empty());
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

// Bytes that protobuf's parser refuses. gRPC's callback API gives the agent's reactor a message
// that does not parse as a failed read, which it cannot tell from the coordinator's half-close:
// the agent reads nothing more from the stream and ends it as after a half-close, OK, once what
// runs on it has answered, though the caller never half-closed. Nothing of the message starts,
// nor anything sent after it, and the agent serves on.
TEST_F(CompromisedCoordinatorAgentTest, BytesThatDoNotParseEndTheReadsAndStartNothing) {
  const v1::ProbeTask inside = FreshTask();
  const std::string probe = Streamed(1, inside).SerializeAsString();
  const std::vector<std::pair<std::string, std::string>> unparsable = {
      {"a probe whose length runs past the message's end",
       Key(1, kLengthDelimited) + Varint(probe.size() + 100) + probe},
      {"a probe whose task's length runs past the probe's end",
       LengthDelimited(1, Key(2, kLengthDelimited) + Varint(50) + "short")},
      {"field number 0", Key(0, kVarint) + Varint(1)},
      {"a varint of 11 bytes", Key(2, kVarint) + std::string(10, '\xff') + "\x01"},
      {"an end-group key that closes no group", Key(2, kEndGroup)},
  };
  std::vector<v1::ProbeTask> sent_after;
  const Counters before = AgentCounters();
  for (const auto& [what, bytes] : unparsable) {
    SCOPED_TRACE(what);
    sent_after.push_back(FreshTask());
    StreamEnd end = SendRawMessages({bytes, OneProbe(2, sent_after.back())}, /*half_close=*/false);
    EXPECT_EQ(end.status.error_code(), grpc::StatusCode::OK) << end.status.error_message();
    EXPECT_TRUE(end.results.empty())
        << end.results.size() << " results, the first " << end.results.front().ShortDebugString();
  }
  const Counters after = AgentCounters();
  EXPECT_EQ(after.probes, before.probes);
  EXPECT_EQ(after.remembered_vrs, before.remembered_vrs);
  ExpectTheAgentStillServes();
  ExpectNothingStartedFor(inside);
  for (const v1::ProbeTask& task : sent_after) ExpectNothingStartedFor(task);
}

// Bytes that parse, though no coordinator writes them: protobuf's parser keeps a field whose wire
// type is not its declared one aside as an unknown field, as it keeps a field of a later version.
// The agent refuses the first (common/crypto/signed_object.h RefuseMistypedFields): the stream ends
// INVALID_ARGUMENT and none of its probes starts, nor one sent after it. A field number the agent
// does not know is a newer coordinator's field and is let through.
TEST_F(CompromisedCoordinatorAgentTest, AFieldOfAnotherWireTypeEndsTheStreamAndStartsNothing) {
  const Counters before = AgentCounters();
  const v1::ProbeTask after = FreshTask();
  StreamEnd end = SendRawMessages({Key(1, kVarint) + Varint(5), OneProbe(7, after)});
  EXPECT_EQ(end.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(end.status.error_message(),
            "a ProbeStreamRequest carries ProbeStreamRequest.probes (field number 1) with another "
            "wire type than its own");
  EXPECT_TRUE(end.results.empty());

  const v1::ProbeTask task = FreshTask();
  const std::string probe = LengthDelimited(1, Varint(42)) +
                            LengthDelimited(2, task.SerializeAsString()) + Key(3, kVarint) +
                            Varint(kBudgetMilliseconds);
  end = SendRawMessages({LengthDelimited(1, probe)});
  EXPECT_EQ(end.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(end.status.error_message(),
            "a ProbeStreamRequest carries StreamedProbe.id (field number 1) with another wire "
            "type than its own");
  EXPECT_TRUE(end.results.empty());
  const Counters after_refusals = AgentCounters();
  EXPECT_EQ(after_refusals.probes, before.probes);
  EXPECT_EQ(after_refusals.remembered_vrs, before.remembered_vrs);
  ExpectNothingStartedFor(after);
  ExpectNothingStartedFor(task);

  // Field 9 of StreamedProbe, unknown to this agent: the probe is answered under its id.
  const v1::ProbeTask newer = FreshTask();
  const std::string with_unknown_field =
      Streamed(8, newer).SerializeAsString() + Key(9, kVarint) + Varint(1);
  end = SendRawMessages({LengthDelimited(1, with_unknown_field)});
  EXPECT_TRUE(end.status.ok()) << end.status.error_code() << ": " << end.status.error_message();
  ASSERT_EQ(end.results.size(), 1u);
  EXPECT_EQ(end.results[0].id(), 8u);
  ExpectObservationOf(end.results[0], newer);
  ExpectTheAgentStillServes();
}

// docs/ARCHITECTURE.md "Probe streams", Bounds: one message of more than 1,024 probes ends the
// stream RESOURCE_EXHAUSTED and starts none of them, though each is well-formed.
TEST_F(CompromisedCoordinatorAgentTest, AMessageOfMoreThan1024ProbesEndsTheStreamAndStartsNone) {
  std::vector<v1::ProbeTask> tasks;
  v1::ProbeStreamRequest request;
  for (uint64_t id = 1; id <= 1025; ++id) {
    tasks.push_back(FreshTask());
    *request.add_probes() = Streamed(id, tasks.back());
  }
  const Counters before = AgentCounters();
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  std::unique_ptr<ProbeStream> stream = stub_->ProbeStream(&context);
  ASSERT_TRUE(stream->Write(request));
  EXPECT_TRUE(ReadToEnd(*stream).empty());
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(status.error_message(),
            "a ProbeStreamRequest carried 1025 probes; at most 1024 are taken");
  const Counters after = AgentCounters();
  EXPECT_EQ(after.probes, before.probes);
  EXPECT_EQ(after.remembered_vrs, before.remembered_vrs);
  ExpectNothingStartedFor(tasks.front());
  ExpectNothingStartedFor(tasks.back());
}

// A message over the agent's gRPC receive limit (ListenConfig.max_receive_message_bytes, default
// 1 MiB; trust rule 8: sizes are checked before parsing) is refused RESOURCE_EXHAUSTED by gRPC
// itself, and the good probe inside it never starts; a message of exactly the limit is read.
TEST_F(CompromisedCoordinatorAgentTest, AMessageOverTheReceiveLimitIsRefusedAndStartsNothing) {
  ASSERT_OK_AND_ASSIGN(
      v1::ProbeAgentConfig agent_config,
      LoadConfig<v1::ProbeAgentConfig>(cluster_->Path("agents/" + AgentId() + ".textproto")));
  const size_t limit = agent_config.listen().max_receive_message_bytes() != 0
                           ? agent_config.listen().max_receive_message_bytes()
                           : size_t{1} << 20;
  // One good probe, and an unknown field that pads the message to `size` bytes: field 15's key is
  // one byte, and the length of a padding of about a MiB a varint of three.
  const auto padded = [](const v1::ProbeTask& task, size_t size) {
    v1::ProbeStreamRequest request;
    *request.add_probes() = Streamed(1, task);
    const size_t padding = size - request.ByteSizeLong() - 4;
    request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(
        15, std::string(padding, 'x'));
    return request;
  };

  const v1::ProbeTask at_limit = FreshTask();
  {
    const v1::ProbeStreamRequest request = padded(at_limit, limit);
    ASSERT_EQ(request.ByteSizeLong(), limit);
    const StreamEnd end = SendAndHalfClose(*stub_, request);
    ASSERT_TRUE(end.sent);
    EXPECT_TRUE(end.status.ok()) << end.status.error_code() << ": " << end.status.error_message();
    ASSERT_EQ(end.results.size(), 1u);
    ExpectObservationOf(end.results[0], at_limit);
  }

  const v1::ProbeTask over_limit = FreshTask();
  const v1::ProbeStreamRequest request = padded(over_limit, limit + 1);
  ASSERT_EQ(request.ByteSizeLong(), limit + 1);
  const Counters before = AgentCounters();
  // gRPC may end the stream before the whole message is written: whether it was sent is gRPC's.
  const StreamEnd end = SendAndHalfClose(*stub_, request);
  EXPECT_TRUE(end.results.empty());
  const grpc::Status& status = end.status;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(status.error_message(),
            absl::StrCat("Received message larger than max (", limit + 1, " vs. ", limit, ")"));
  const Counters after = AgentCounters();
  EXPECT_EQ(after.probes, before.probes);
  EXPECT_EQ(after.remembered_vrs, before.remembered_vrs);
  ExpectNothingStartedFor(over_limit);
}

// Each malformed probe in a message is refused by itself, with the status a Probe call would end
// with, while the good probe beside it is answered (docs/ARCHITECTURE.md "Probe streams", Same
// admission, same answer); a refused probe leaves its VR free. The id of a probe still running
// (one whose target accepts and never answers) is refused too, and that probe runs on until it is
// cancelled.
TEST_F(CompromisedCoordinatorAgentTest, EachMalformedProbeIsRefusedByItselfBesideAGoodOne) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PlainTcpTestServer> silent,
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  std::unique_ptr<ProbeStream> stream = stub_->ProbeStream(&context);
  v1::ProbeTask silent_task = FreshTask();
  silent_task.set_hostname("127.0.0.1");
  silent_task.set_port(static_cast<uint32_t>(silent->port()));
  v1::ProbeStreamRequest first;
  *first.add_probes() = Streamed(100, silent_task);
  ASSERT_TRUE(stream->Write(first));
  // Probe 100 is in its TLS handshake: it runs until its budget or its cancellation.
  ASSERT_TRUE(silent->WaitForConnections(1, kCallTimeout));

  // Every task is a fresh VR's, so that only the field under test is wrong.
  std::map<uint64_t, v1::StreamedProbe> sent;
  const auto send = [&sent](v1::StreamedProbe probe) { sent[probe.id()] = probe; };
  const v1::ProbeTask good = FreshTask();
  send(Streamed(1, good));
  v1::StreamedProbe no_task;
  no_task.set_id(2);
  no_task.set_timeout_milliseconds(kBudgetMilliseconds);
  send(no_task);
  v1::StreamedProbe no_budget = Streamed(3, FreshTask());
  no_budget.set_timeout_milliseconds(0);
  send(no_budget);
  v1::StreamedProbe over_budget = Streamed(4, FreshTask());
  over_budget.set_timeout_milliseconds(600001);
  send(over_budget);
  v1::StreamedProbe short_nonce = Streamed(5, FreshTask());
  short_nonce.mutable_task()->set_nonce(std::string(15, 'n'));
  send(short_nonce);
  v1::StreamedProbe long_nonce = Streamed(6, FreshTask());
  long_nonce.mutable_task()->set_nonce(std::string(65, 'n'));
  send(long_nonce);
  v1::StreamedProbe bad_hostname = Streamed(7, FreshTask());
  bad_hostname.mutable_task()->set_hostname("empty..label.test");
  send(bad_hostname);
  v1::StreamedProbe short_digest = Streamed(8, FreshTask());
  short_digest.mutable_task()->set_vouching_request_sha256(std::string(31, 'd'));
  send(short_digest);
  v1::StreamedProbe no_port = Streamed(9, FreshTask());
  no_port.mutable_task()->set_port(0);
  send(no_port);
  send(Streamed(100, FreshTask()));  // The id of the probe still running.
  v1::ProbeStreamRequest request;
  for (const auto& [id, probe] : sent) *request.add_probes() = probe;
  ASSERT_TRUE(stream->Write(request));

  std::map<uint64_t, v1::StreamedProbeResult> results =
      ById(ReadResults(*stream, static_cast<size_t>(request.probes_size())));
  ASSERT_EQ(results.size(), sent.size());
  ExpectObservationOf(results[1], good);
  const std::map<uint64_t, std::string> refusals = {
      {2, "StreamedProbe.task is missing"},
      {3, "StreamedProbe.timeout_milliseconds must be 1 to 600000, not 0"},
      {4, "StreamedProbe.timeout_milliseconds must be 1 to 600000, not 600001"},
      {5, "ProbeTask.nonce must be 16..64 bytes, not 15"},
      {6, "ProbeTask.nonce must be 16..64 bytes, not 65"},
      {7, "ProbeTask.hostname \"empty..label.test\""},
      {8, "ProbeTask.vouching_request_sha256 must be 32 bytes (SHA-256), not 31"},
      {9, "ProbeTask.port 0 is outside 1..65535"},
      {100, "probe id 100 is already running on this stream"},
  };
  for (const auto& [id, message] : refusals) {
    EXPECT_EQ(results[id].status_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << id << ": " << results[id].status_message();
    EXPECT_THAT(results[id].status_message(), HasSubstr(message)) << id;
    EXPECT_FALSE(results[id].has_observation()) << id;
  }

  // The probe still running was not replaced: cancelling its id ends it, CANCELLED.
  v1::ProbeStreamRequest cancel;
  cancel.add_cancelled_ids(100);
  ASSERT_TRUE(stream->Write(cancel));
  results = ById(ReadResults(*stream, 1));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[100].status_code(), grpc::StatusCode::CANCELLED)
      << results[100].status_message();

  // The refused VRs were not remembered: each is probed now, the field under test put right.
  v1::ProbeStreamRequest again;
  for (uint64_t id : {3, 4, 100}) {
    *again.add_probes() = Streamed(id + 1000, sent[id].task());
  }
  for (uint64_t id : {5, 6}) {
    v1::StreamedProbe probe = Streamed(id + 1000, sent[id].task());
    probe.mutable_task()->set_nonce(std::string(16, 'n'));
    *again.add_probes() = probe;
  }
  ASSERT_TRUE(stream->Write(again));
  results = ById(ReadResults(*stream, static_cast<size_t>(again.probes_size())));
  ASSERT_EQ(results.size(), static_cast<size_t>(again.probes_size()));
  for (const v1::StreamedProbe& probe : again.probes()) {
    SCOPED_TRACE(probe.id());
    ExpectObservationOf(results[probe.id()], probe.task());
  }
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(ReadToEnd(*stream).empty());
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

// docs/SECURITY.md T7: an agent signs at most one Observation per VR, so a coordinator cannot
// probe again until a flaky interception wins. The same VR on the stream and as a Probe call, in
// either order, or twice in one message, gets one Observation; the other is refused
// ALREADY_EXISTS, whatever its nonce.
TEST_F(CompromisedCoordinatorAgentTest, OneVrGetsOneObservationOnTheStreamOrAsACall) {
  const Counters before = AgentCounters();
  const auto call = [](const v1::ProbeTask& task, v1::ProbeResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::ProbeRequest request;
    *request.mutable_task() = task;
    return stub_->Probe(&context, request, response);
  };
  const auto with_nonce = [](v1::ProbeTask task, const std::string& nonce) {
    task.set_nonce(nonce);
    return task;
  };

  // On the stream first, then as a call.
  const v1::ProbeTask streamed_first = FreshTask();
  ExpectObservationOf(ProbeOnStream(streamed_first), streamed_first);
  v1::ProbeResponse response;
  grpc::Status status = call(with_nonce(streamed_first, std::string(16, 'a')), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("an agent probes a VR once"));
  EXPECT_FALSE(response.has_observation());

  // As a call first, then on the stream.
  const v1::ProbeTask called_first = FreshTask();
  response.Clear();
  status = call(called_first, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ExpectObservationOf(response.observation(), called_first);
  const v1::StreamedProbeResult repeated =
      ProbeOnStream(with_nonce(called_first, std::string(16, 'b')));
  EXPECT_EQ(repeated.status_code(), grpc::StatusCode::ALREADY_EXISTS) << repeated.status_message();
  EXPECT_THAT(repeated.status_message(), HasSubstr("an agent probes a VR once"));
  EXPECT_FALSE(repeated.has_observation());

  // Twice in one message.
  const v1::ProbeTask twice = FreshTask();
  v1::ProbeStreamRequest request;
  *request.add_probes() = Streamed(1, twice);
  *request.add_probes() = Streamed(2, with_nonce(twice, std::string(16, 'c')));
  const StreamEnd end = SendAndHalfClose(*stub_, request);
  ASSERT_TRUE(end.sent);
  std::map<uint64_t, v1::StreamedProbeResult> results = ById(end.results);
  EXPECT_TRUE(end.status.ok()) << end.status.error_code() << ": " << end.status.error_message();
  ASSERT_EQ(results.size(), 2u);
  const uint64_t observed = results[1].has_observation() ? 1 : 2;
  const uint64_t refused = 3 - observed;
  ExpectObservationOf(results[observed], request.probes(static_cast<int>(observed - 1)).task());
  EXPECT_EQ(results[refused].status_code(), grpc::StatusCode::ALREADY_EXISTS)
      << results[refused].status_message();
  EXPECT_FALSE(results[refused].has_observation());

  // Three refusals, each counted as a repeated VR.
  EXPECT_EQ(AgentCounters().repeated_vrs_refused - before.repeated_vrs_refused, 3);
}

// Trust rule 7: only the coordinator's identity may open a ProbeStream. Without a client
// certificate, with the agent's own server certificate (not issued for client authentication) or
// the target's web-PKI certificate (another CA) the TLS handshake fails; with another internal
// identity (the signer's) the call is refused before the agent's handler runs. Nothing the
// stream carried is probed.
TEST_F(CompromisedCoordinatorAgentTest, ACallerWithoutTheCoordinatorsIdentityGetsNoStream) {
  struct Caller {
    std::string what;
    std::string certificate_file;
    std::string key_file;
    grpc::StatusCode refused;
  };
  const std::vector<Caller> callers = {
      {"no client certificate", "", "", grpc::StatusCode::UNAVAILABLE},
      {"the agent's own server certificate", cluster_->Path("internal/" + AgentId() + ".pem"),
       cluster_->Path("internal/" + AgentId() + ".key"), grpc::StatusCode::UNAVAILABLE},
      {"the target's web-PKI certificate", cluster_->ServerChainFile(), cluster_->ServerKeyFile(),
       grpc::StatusCode::UNAVAILABLE},
      {"the signer's internal identity", cluster_->Path("internal/signer.pem"),
       cluster_->Path("internal/signer.key"), grpc::StatusCode::PERMISSION_DENIED},
  };
  const Counters before = AgentCounters();
  std::vector<v1::ProbeTask> tasks;
  for (const Caller& caller : callers) {
    SCOPED_TRACE(caller.what);
    v1::PeerConfig peer = agent_->peer();
    peer.mutable_tls()->set_certificate_file(caller.certificate_file);
    peer.mutable_tls()->set_private_key_file(caller.key_file);
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::Channel> channel, MakeChannel(peer));
    std::unique_ptr<v1::ProbeService::Stub> stub = v1::ProbeService::NewStub(channel);
    tasks.push_back(FreshTask());
    v1::ProbeStreamRequest request;
    *request.add_probes() = Streamed(1, tasks.back());
    const StreamEnd end = SendAndHalfClose(*stub, request);  // Sent or not, the status says.
    EXPECT_TRUE(end.results.empty());
    const grpc::Status& status = end.status;
    EXPECT_EQ(status.error_code(), caller.refused) << status.error_message();
    if (caller.refused == grpc::StatusCode::PERMISSION_DENIED) {
      EXPECT_EQ(status.error_message(), "client identity is not on this server's allowlist");
    }
  }
  const Counters after = AgentCounters();
  EXPECT_EQ(after.probes, before.probes);
  EXPECT_EQ(after.remembered_vrs, before.remembered_vrs);
  for (const v1::ProbeTask& task : tasks) ExpectNothingStartedFor(task);
}

}  // namespace
}  // namespace mecai
