// Simulated regions on one machine (ARCHITECTURE.md §9): one Linux network namespace per region,
// joined to the host by a veth pair (host side 10.77.<n>.1, region side 10.77.<n>.2), each with its
// own dnsmasq answering inside the region. Probe agents placed in a region resolve and connect from
// there, so one region's resolver can be turned against it (a split view). Needs root.
#ifndef MECAI_CLUSTER_NETWORK_REGIONS_H_
#define MECAI_CLUSTER_NETWORK_REGIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/local_cluster.h"
#include "common/process/child_process.h"

namespace mecai {

// Not thread-safe. Destruction stops the resolvers and deletes the namespaces.
class NetworkRegions {
 public:
  // Creates `count` regions (1..9) whose resolvers answer `hostname` with the host's address on
  // each region's link. Files go to `workdir`; `tag` keeps names unique (e.g. the process id).
  static absl::StatusOr<std::unique_ptr<NetworkRegions>> Create(const std::string& workdir,
                                                                int count,
                                                                const std::string& hostname,
                                                                const std::string& tag);
  ~NetworkRegions();

  int count() const { return static_cast<int>(namespaces_.size()); }
  // Region n counts from 1.
  const std::string& NamespaceName(int n) const { return namespaces_[n - 1]; }
  static std::string HostAddress(int n) { return "10.77." + std::to_string(n) + ".1"; }
  static std::string RegionAddress(int n) { return "10.77." + std::to_string(n) + ".2"; }
  // Where LocalCluster should run agent n: inside region n, its own resolver, 10.77/16 allowed.
  std::vector<AgentPlacement> Placements() const;

  // Makes region n's resolver answer `address` for the hostname from now on (SIGHUP re-reads).
  absl::Status PointHostname(int n, const std::string& address);
  pid_t ResolverPid(int n) const { return resolvers_[n - 1]->pid(); }

 private:
  NetworkRegions(std::string workdir, std::string hostname)
      : workdir_(std::move(workdir)), hostname_(std::move(hostname)) {}
  std::string HostsFile(int n) const;

  const std::string workdir_;
  const std::string hostname_;
  std::vector<std::string> namespaces_;
  std::vector<std::unique_ptr<ChildProcess>> resolvers_;
  // flock(2) on the lock file (network_regions.cc), held while the regions exist: one set of
  // regions per host at a time (they all use 10.77.0.0/16). Closed last, after the namespaces are
  // deleted.
  int lock_fd_ = -1;
};

}  // namespace mecai

#endif  // MECAI_CLUSTER_NETWORK_REGIONS_H_
