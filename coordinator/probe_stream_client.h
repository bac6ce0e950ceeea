// One agent's probes on one long-lived ProbeService.ProbeStream (proto/mecai/v1/probe.proto;
// docs/ARCHITECTURE.md "Probe streams"): a probe costs a message on an open stream instead of a
// call of its own, and the probes sent while a message is being written go together in the next.
#ifndef MECAI_COORDINATOR_PROBE_STREAM_CLIENT_H_
#define MECAI_COORDINATOR_PROBE_STREAM_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/rpc/grpc_channel.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {

// Thread-safe. A stream is opened with the first probe and again after one ends (the agent
// restarted, the connection broke): the probes that were running on a stream that ends are
// answered with its status (UNAVAILABLE when it ended without one), never left waiting.
class ProbeStreamClient {
 public:
  // `stub` must outlive this object; `agent` names the agent in what is logged.
  ProbeStreamClient(v1::ProbeService::Stub& stub, std::string agent);
  // Cancels the open stream, if any, and waits until it has ended (its probes answered
  // CANCELLED).
  ~ProbeStreamClient();

  ProbeStreamClient(const ProbeStreamClient&) = delete;
  ProbeStreamClient& operator=(const ProbeStreamClient&) = delete;

  // The agent's answer to one probe: what a Probe call would have ended with.
  using ResultDone = std::function<void(grpc::Status status, v1::SignedObservation observation)>;

  class Stream;
  // Names one probe sent, for Cancel.
  struct Ticket {
    uint64_t id = 0;
    std::weak_ptr<Stream> stream;
  };

  // Sends `task`, to be answered by `deadline` (Carries(deadline) must hold): the agent's budget is
  // the time left when the message is written (1 ms at least, 600 s at most). `done` runs exactly
  // once, on a gRPC thread or, when the probe is cancelled, on the thread of Cancel: with the
  // agent's result, with the stream's end, or with Cancel's status. Nothing here ends a probe at
  // its deadline: the caller cancels it then (the agent answers by then).
  Ticket Probe(const v1::ProbeTask& task, absl::Time deadline, ResultDone done);

  // Answers the probe with `status` at once, if it has not been answered, and asks the agent to
  // stop it.
  static void Cancel(const Ticket& ticket, const grpc::Status& status);

  // True for kUnimplementedFor after the agent answered a stream UNIMPLEMENTED (it predates
  // ProbeStream): its probes then go as Probe calls, and a stream is tried again after it, so
  // that an agent upgraded meanwhile gets streams again.
  bool unimplemented() const;
  static constexpr absl::Duration kUnimplementedFor = absl::Minutes(5);

  // A stream takes new probes for kStreamLifetime (the first probe after that half-closes it and
  // opens a new one), and only probes that must end within kMaxStreamedProbeTime (Carries; a
  // longer probe goes as a Probe call). So no probe runs on a stream later than the sum of the two
  // after it opened: within the grace the agent's server gives a connection's running calls after
  // the connection's maximum age (common/rpc/grpc_channel.h), and no stream is cut with probes on
  // it. A stream left idle stays open until the next probe or the connection's end, with nothing
  // to lose.
  static constexpr int kStreamLifetimeSeconds = 30;
  // The longest probe timeout a coordinator's config allows (kMaxProbeTimeoutMilliseconds,
  // coordinator/coordinator_config.h), so that every configured probe may go on a stream.
  static constexpr int kMaxStreamedProbeSeconds = 120;
  static_assert(kStreamLifetimeSeconds + kMaxStreamedProbeSeconds < kMaxConnectionAgeGraceSeconds,
                "a stream could outlive its connection's grace with probes on it");
  static constexpr absl::Duration kStreamLifetime = absl::Seconds(kStreamLifetimeSeconds);
  static constexpr absl::Duration kMaxStreamedProbeTime = absl::Seconds(kMaxStreamedProbeSeconds);
  // Whether a probe to be answered by `deadline` may go on a stream now.
  static bool Carries(absl::Time deadline);
  // Probes written per message, and probes queued on a stream whose agent takes none (it is then
  // cancelled, and its probes answered UNAVAILABLE).
  static constexpr int kMaxProbesPerMessage = 64;
  static constexpr int kMaxQueuedProbes = 4096;
  static constexpr int64_t kMaxTimeoutMilliseconds = 600 * 1000;

 private:
  // What the client and its streams share: a stream may still be ending (its OnDone unlocking
  // this mutex) when the client's destructor has seen it end, so neither owns it alone.
  struct Shared;

  v1::ProbeService::Stub& stub_;
  const std::shared_ptr<Shared> shared_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PROBE_STREAM_CLIENT_H_
