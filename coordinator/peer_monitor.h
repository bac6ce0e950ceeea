// Follows the coordinator's channels to its peers, every agent and the signer (docs/ARCHITECTURE.md
// "Peers and load"). A peer that is down, at start or later, does not stop the coordinator: its
// channel keeps reconnecting, VRs that need it are refused meanwhile with the usual reasons
// (PERSPECTIVE_TIMEOUT for an agent under unanimity, the signer's failure for the signer), and
// the gauge mecai_coordinator_peer_connected{peer} and one log line per change show its state.
#ifndef MECAI_COORDINATOR_PEER_MONITOR_H_
#define MECAI_COORDINATOR_PEER_MONITOR_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/coordinator_metrics.h"
#include "grpcpp/channel.h"

namespace mecai {

// One peer: its bounded name (a configured perspective id, or "signer"), its address for the
// logs, and its channel.
struct MonitoredPeer {
  std::string name;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
};

// Thread-safe. A thread checks every channel each `interval`, asking an idle one to connect.
class PeerMonitor {
 public:
  // `metrics` may be null; it must outlive this object.
  PeerMonitor(std::vector<MonitoredPeer> peers, CoordinatorMetrics* metrics,
              absl::Duration interval);
  ~PeerMonitor();
  PeerMonitor(const PeerMonitor&) = delete;
  PeerMonitor& operator=(const PeerMonitor&) = delete;

  // Asks every channel to connect and waits until all are connected or `deadline` passes;
  // returns "<name> at <address>" of each peer still unconnected then (logged as a warning).
  std::vector<std::string> WaitForPeers(absl::Time deadline);

  // Checks every channel now (what the thread does each `interval`).
  void Check();

 private:
  void Loop();

  const std::vector<MonitoredPeer> peers_;
  CoordinatorMetrics* const metrics_;
  const absl::Duration interval_;

  absl::Mutex mutex_;
  // Per peer, whether it was connected at the last check; -1 before the first.
  std::vector<int> connected_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PEER_MONITOR_H_
