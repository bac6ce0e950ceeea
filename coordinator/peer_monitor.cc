#include "coordinator/peer_monitor.h"

#include "common/base/logging.h"

namespace mecai {

PeerMonitor::PeerMonitor(std::vector<MonitoredPeer> peers, CoordinatorMetrics* metrics,
                         absl::Duration interval)
    : peers_(std::move(peers)), metrics_(metrics), interval_(interval) {
  {
    absl::MutexLock lock(&mutex_);
    connected_.assign(peers_.size(), -1);
  }
  for (const MonitoredPeer& peer : peers_) {
    if (metrics_ != nullptr) metrics_->SetPeerConnected(peer.name, false);
  }
  thread_ = std::thread([this] { Loop(); });
}

PeerMonitor::~PeerMonitor() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

std::vector<std::string> PeerMonitor::WaitForPeers(absl::Time deadline) {
  for (const MonitoredPeer& peer : peers_) peer.channel->GetState(/*try_to_connect=*/true);
  std::vector<std::string> unconnected;
  for (const MonitoredPeer& peer : peers_) {
    if (!peer.channel->WaitForConnected(absl::ToChronoTime(deadline))) {
      unconnected.push_back(peer.name + " at " + peer.address);
    }
  }
  Check();
  return unconnected;
}

void PeerMonitor::Check() {
  for (size_t i = 0; i < peers_.size(); ++i) {
    const MonitoredPeer& peer = peers_[i];
    const grpc_connectivity_state state = peer.channel->GetState(/*try_to_connect=*/true);
    int before;
    bool connected;
    {
      absl::MutexLock lock(&mutex_);
      before = connected_[i];
      // IDLE and CONNECTING are passing states (a connection aged out by the server is replaced
      // at once): they keep the last verdict; only READY and TRANSIENT_FAILURE change it.
      if (state == GRPC_CHANNEL_READY) {
        connected = true;
      } else if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN ||
                 before == -1) {
        connected = false;
      } else {
        connected = before == 1;
      }
      connected_[i] = connected ? 1 : 0;
    }
    if (before == (connected ? 1 : 0)) continue;
    if (metrics_ != nullptr) metrics_->SetPeerConnected(peer.name, connected);
    if (connected) {
      MECAI_LOG(Info) << "peer " << peer.name << " at " << peer.address << " is connected";
    } else {
      MECAI_LOG(Warning) << "peer " << peer.name << " at " << peer.address
                         << " is unreachable; reconnecting, and VRs that need it are refused "
                            "until it is back";
    }
  }
}

void PeerMonitor::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      if (mutex_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) return;
    }
    Check();
  }
}

}  // namespace mecai
