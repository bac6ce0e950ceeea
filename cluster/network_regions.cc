#include "cluster/network_regions.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"

namespace mecai {
namespace {

// Runs a command to completion; the error carries its output.
absl::Status RunCommand(const std::vector<std::string>& argv, const std::string& log) {
  ASSIGN_OR_RETURN(auto process, ChildProcess::Start(argv, log));
  if (!process->WaitForExit(absl::Seconds(20)) || process->ExitCode() != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "", " ",
                                            argv.size() > 2 ? argv[2] : "",
                                            " failed: ", TailOfFile(log, 500)));
  }
  return absl::OkStatus();
}

// The process that created a region namespace "mecai-<letters><pid>-<n>", or 0 for another name.
pid_t CreatorOf(absl::string_view ns) {
  if (!absl::ConsumePrefix(&ns, "mecai-")) return 0;
  const size_t dash = ns.rfind('-');
  if (dash == absl::string_view::npos) return 0;
  absl::string_view tag = ns.substr(0, dash);
  while (!tag.empty() && absl::ascii_isalpha(tag.front())) tag.remove_prefix(1);
  int pid = 0;
  return absl::SimpleAtoi(tag, &pid) && pid > 0 ? pid : 0;
}

constexpr char kLockFile[] = "/run/lock/mecai-network-regions.lock";
// Where the lock lives on hosts without /run/lock (minimal containers).
constexpr char kFallbackLockFile[] = "/tmp/mecai-network-regions.lock";

// Waits up to `patience` for the host-wide lock of the regions' address range; the descriptor.
absl::StatusOr<int> LockRegionAddresses(absl::Duration patience) {
  const char* path = kLockFile;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    path = kFallbackLockFile;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  const absl::Time deadline = absl::Now() + patience;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK || absl::Now() >= deadline) {
      close(fd);
      return absl::UnavailableError(
          absl::StrCat("another set of network regions (10.77.0.0/16) is in use on this host (",
                       path, " is locked); wait for it to finish"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return fd;
}

// Deletes region namespaces whose creator no longer runs (a demo or test killed before its
// teardown), so their veth pairs stop holding 10.77.<n>.1; then refuses if a living one still
// holds that range, naming it.
absl::Status ReclaimRegionAddresses(const std::string& log) {
  const std::string listing = log + ".netns";
  ASSIGN_OR_RETURN(auto lister, ChildProcess::Start({"ip", "netns", "list"}, listing));
  if (!lister->WaitForExit(absl::Seconds(20)) || lister->ExitCode() != 0) {
    return absl::InternalError(absl::StrCat("ip netns list failed: ", TailOfFile(listing, 500)));
  }
  ASSIGN_OR_RETURN(std::string names, ReadFile(listing, 1 << 20));
  for (absl::string_view line : absl::StrSplit(names, '\n', absl::SkipEmpty())) {
    const std::string ns(line.substr(0, line.find(' ')));  // "name (id: 3)".
    const pid_t creator = CreatorOf(ns);
    if (creator == 0) continue;
    if (kill(creator, 0) == 0 || errno != ESRCH) {
      return absl::FailedPreconditionError(absl::StrCat(
          "network namespace ", ns, " of running process ", creator,
          " already uses the regions' addresses (10.77.0.0/16); wait for it to finish"));
    }
    RETURN_IF_ERROR(RunCommand({"ip", "netns", "del", ns}, log));
    MECAI_LOG(Info) << "deleted network namespace " << ns << " left by process " << creator
                    << ", which no longer runs";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkRegions>> NetworkRegions::Create(const std::string& workdir,
                                                                       int count,
                                                                       const std::string& hostname,
                                                                       const std::string& tag) {
  if (geteuid() != 0) {
    return absl::PermissionDeniedError("network namespaces need root (ip netns)");
  }
  if (count < 1 || count > 9) return absl::InvalidArgumentError("1 to 9 regions");
  const std::string log = workdir + "/ip.log";
  // Another demo or test on this host may hold the range for a while: wait for it, then reclaim
  // what a killed one left behind (the lock dies with its holder).
  ASSIGN_OR_RETURN(const int lock_fd, LockRegionAddresses(absl::Minutes(3)));
  std::unique_ptr<NetworkRegions> regions(new NetworkRegions(workdir, hostname));
  regions->lock_fd_ = lock_fd;
  RETURN_IF_ERROR(ReclaimRegionAddresses(log));
  for (int n = 1; n <= count; ++n) {
    const std::string ns = absl::StrCat("mecai-", tag, "-", n);
    const std::string host_side = absl::StrCat("mh", tag.substr(0, 8), n);
    const std::string region_side = absl::StrCat("mr", tag.substr(0, 8), n);
    RETURN_IF_ERROR(RunCommand({"ip", "netns", "add", ns}, log));
    regions->namespaces_.push_back(ns);
    RETURN_IF_ERROR(RunCommand(
        {"ip", "link", "add", host_side, "type", "veth", "peer", "name", region_side, "netns", ns},
        log));
    RETURN_IF_ERROR(
        RunCommand({"ip", "addr", "add", HostAddress(n) + "/24", "dev", host_side}, log));
    RETURN_IF_ERROR(RunCommand({"ip", "link", "set", host_side, "up"}, log));
    RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", ns, "ip", "addr", "add",
                                RegionAddress(n) + "/24", "dev", region_side},
                               log));
    RETURN_IF_ERROR(
        RunCommand({"ip", "netns", "exec", ns, "ip", "link", "set", region_side, "up"}, log));
    RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"}, log));
    RETURN_IF_ERROR(WriteFileAtomically(regions->HostsFile(n),
                                        absl::StrCat(HostAddress(n), " ", hostname, "\n")));
    ASSIGN_OR_RETURN(
        auto resolver,
        ChildProcess::Start(
            {"ip", "netns", "exec", ns, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
             "--listen-address=" + RegionAddress(n), "--bind-interfaces", "--port=53",
             "--no-resolv", "--no-hosts", "--addn-hosts=" + regions->HostsFile(n),
             "--local=/" + hostname.substr(hostname.find('.') + 1) + "/",
             absl::StrCat("--pid-file=", workdir, "/dnsmasq-region-", n, ".pid")},
            absl::StrCat(workdir, "/dnsmasq-region-", n, ".log")));
    regions->resolvers_.push_back(std::move(resolver));
  }
  absl::SleepFor(absl::Milliseconds(200));
  for (int n = 1; n <= count; ++n) {
    if (!regions->resolvers_[n - 1]->Running()) {
      return absl::UnavailableError(absl::StrCat(
          "the resolver of region ", n,
          " did not start: ", TailOfFile(absl::StrCat(workdir, "/dnsmasq-region-", n, ".log"))));
    }
  }
  return regions;
}

NetworkRegions::~NetworkRegions() {
  resolvers_.clear();
  for (const std::string& ns : namespaces_) {
    RunCommand({"ip", "netns", "del", ns}, workdir_ + "/ip-teardown.log").IgnoreError();
  }
  if (lock_fd_ >= 0) close(lock_fd_);  // Releases the flock.
}

std::string NetworkRegions::HostsFile(int n) const {
  return absl::StrCat(workdir_, "/hosts-region-", n);
}

std::vector<AgentPlacement> NetworkRegions::Placements() const {
  std::vector<AgentPlacement> placements;
  for (int n = 1; n <= count(); ++n) {
    placements.push_back({NamespaceName(n), RegionAddress(n), RegionAddress(n), "10.77.0.0/16"});
  }
  return placements;
}

absl::Status NetworkRegions::PointHostname(int n, const std::string& address) {
  RETURN_IF_ERROR(WriteFileAtomically(HostsFile(n), absl::StrCat(address, " ", hostname_, "\n")));
  kill(resolvers_[n - 1]->pid(), SIGHUP);
  absl::SleepFor(absl::Milliseconds(200));
  return absl::OkStatus();
}

}  // namespace mecai
