#include "probe_agent/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/net/ip_address.h"

namespace mecai {
namespace probe_agent {
namespace {

// c-ares asks each nameserver in turn and, after the first round, doubles the per-try timeout
// (c-ares 1.18 ares_send.c). With T tries per server the whole schedule is (2^T - 1) × servers ×
// the per-try timeout, which is chosen so that it fits the caller's timeout.
constexpr absl::Duration kMinimumTryTimeout = absl::Milliseconds(50);

absl::Status InitializeCaresLibrary() {
  // ares_library_init must run once per process before any channel exists.
  static const int result = ares_library_init(ARES_LIB_INIT_ALL);
  if (result != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("cannot initialise c-ares: ", ares_strerror(result)));
  }
  return absl::OkStatus();
}

// Owns one c-ares channel. Destroying it completes pending lookups with ARES_EDESTRUCTION.
// Not thread-safe (nor is the channel, in c-ares 1.18).
class ChannelOwner {
 public:
  ChannelOwner() = default;
  ~ChannelOwner() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }
  ChannelOwner(const ChannelOwner&) = delete;
  ChannelOwner& operator=(const ChannelOwner&) = delete;
  ares_channel* address() { return &channel_; }
  ares_channel get() const { return channel_; }

 private:
  ares_channel channel_ = nullptr;
};

// One ares_getaddrinfo lookup (A or AAAA) and what it returned. Not thread-safe: written by the
// c-ares callback on the thread that drives the channel.
struct FamilyLookup {
  explicit FamilyLookup(int family) : family(family) {}
  const char* record_type() const { return family == AF_INET ? "A" : "AAAA"; }

  const int family;
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<std::string> addresses;
};

void OnLookupDone(void* argument, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* lookup = static_cast<FamilyLookup*>(argument);
  lookup->done = true;
  lookup->status = status;
  if (result == nullptr) return;
  for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    const void* raw = nullptr;
    if (node->ai_family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(node->ai_addr)->sin_addr;
    } else if (node->ai_family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(node->ai_addr)->sin6_addr;
    }
    if (node->ai_family != lookup->family || raw == nullptr) continue;
    if (inet_ntop(node->ai_family, raw, text, sizeof(text)) != nullptr) {
      lookup->addresses.push_back(text);
    }
  }
  ares_freeaddrinfo(result);
}

// RFC 1035 §4.1.1 RCODEs and RFC 2308 NODATA, as c-ares reports them.
v1::ResolutionOutcome OutcomeOf(const FamilyLookup& lookup) {
  switch (lookup.status) {
    case ARES_SUCCESS:
      return lookup.addresses.empty() ? v1::RESOLUTION_NODATA : v1::RESOLUTION_NOERROR;
    case ARES_ENOTFOUND:
      return v1::RESOLUTION_NXDOMAIN;
    case ARES_ENODATA:
      return v1::RESOLUTION_NODATA;
    case ARES_ESERVFAIL:
      return v1::RESOLUTION_SERVFAIL;
    case ARES_EREFUSED:
    // c-ares 1.18 ends a query whose every nameserver answered REFUSED with ARES_ECONNREFUSED
    // (ares_process.c, end of the server rotation); a nameserver unreachable over UDP (ICMP port
    // unreachable) ends the same way.
    case ARES_ECONNREFUSED:
      return v1::RESOLUTION_REFUSED;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
      return v1::RESOLUTION_TIMEOUT;
    default:
      return v1::RESOLUTION_ERROR;
  }
}

bool IsNoRecords(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }
bool IsTimeout(int status) { return status == ARES_ETIMEOUT || status == ARES_ECANCELLED; }

// Errors of the name's DNS service, as opposed to faults of this process.
bool IsServerFailure(int status) {
  switch (status) {
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
    case ARES_EFORMERR:
    case ARES_EBADRESP:
    case ARES_ENOTIMP:
    case ARES_EBADFAMILY:
      return true;
    default:
      return false;
  }
}

absl::Status ConfigureNameservers(ares_channel channel, const std::vector<Nameserver>& servers) {
  if (servers.empty()) return absl::OkStatus();
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    ares_addr_port_node& node = nodes[i];
    std::memset(&node, 0, sizeof(node));
    node.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
    absl::StatusOr<IpAddress> address = ParseIpAddress(servers[i].address);
    if (!address.ok()) return address.status();
    if (address->family == IpAddress::Family::kIpv4) {
      node.family = AF_INET;
      std::memcpy(&node.addr.addr4, address->bytes.data(), 4);
    } else {
      node.family = AF_INET6;
      std::memcpy(&node.addr.addr6, address->bytes.data(), 16);
    }
    node.udp_port = servers[i].port;
    node.tcp_port = servers[i].port;
  }
  const int result = ares_set_servers_ports(channel, nodes.data());
  if (result != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("cannot set nameservers: ", ares_strerror(result)));
  }
  return absl::OkStatus();
}

int ToPollMilliseconds(const timeval& wait) {
  return static_cast<int>(wait.tv_sec * 1000 + (wait.tv_usec + 999) / 1000);
}

// Drives the channel until both lookups are done or `deadline` passes; at the deadline pending
// lookups are cancelled (their status becomes ARES_ECANCELLED).
absl::Status RunUntilDone(ares_channel channel, std::array<FamilyLookup, 2>& lookups,
                          absl::Time deadline) {
  while (!(lookups[0].done && lookups[1].done)) {
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) {
      ares_cancel(channel);
      break;
    }
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> watched;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;  // NOLINT(runtime/int): pollfd's type.
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events != 0) watched.push_back(pollfd{sockets[i], events, 0});
    }
    timeval limit = absl::ToTimeval(remaining);
    timeval suggested;
    const timeval* wait = ares_timeout(channel, &limit, &suggested);
    const int ready = poll(watched.data(), watched.size(), ToPollMilliseconds(*wait));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (ready == 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // Timeouts and retries.
      continue;
    }
    for (const pollfd& entry : watched) {
      if (entry.revents == 0) continue;
      const bool readable = (entry.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (entry.revents & POLLOUT) != 0;
      ares_process_fd(channel, readable ? entry.fd : ARES_SOCKET_BAD,
                      writable ? entry.fd : ARES_SOCKET_BAD);
    }
  }
  return absl::OkStatus();
}

// Why neither lookup gave an address: a fault of the agent first, then a timeout, then a failure
// of the nameserver, and NOT_FOUND when both names simply have no records.
absl::Status NoAddressError(const std::string& hostname, absl::Duration timeout,
                            const std::array<FamilyLookup, 2>& lookups) {
  for (const FamilyLookup& lookup : lookups) {
    const int status = lookup.status;
    if (status == ARES_SUCCESS || IsNoRecords(status) || IsTimeout(status) ||
        IsServerFailure(status)) {
      continue;
    }
    return absl::InternalError(absl::StrCat("the ", lookup.record_type(), " query for ", hostname,
                                            " failed: ", ares_strerror(status)));
  }
  for (const FamilyLookup& lookup : lookups) {
    if (IsTimeout(lookup.status)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no complete DNS answer for ", hostname, " within ", absl::FormatDuration(timeout),
          " (the ", lookup.record_type(), " query timed out)"));
    }
  }
  for (const FamilyLookup& lookup : lookups) {
    if (IsServerFailure(lookup.status)) {
      return absl::UnavailableError(absl::StrCat("the ", lookup.record_type(), " query for ",
                                                 hostname,
                                                 " failed: ", ares_strerror(lookup.status)));
    }
  }
  return absl::NotFoundError(absl::StrCat("hostname ", hostname, " has no A or AAAA records (",
                                          ares_strerror(lookups[0].status), ")"));
}

}  // namespace

absl::StatusOr<Nameserver> ParseNameserver(const std::string& text) {
  auto invalid = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("nameserver '", text, "' ", why,
                     " (expected \"192.0.2.53\", \"192.0.2.53:5353\", \"2001:db8::53\" or "
                     "\"[2001:db8::53]:5353\")"));
  };
  std::string address_text = text;
  std::string port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    has_port = true;
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid("has a bracketed address without \"]:port\"");
    }
    address_text = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    has_port = true;
    const size_t colon = text.find(':');
    address_text = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  absl::StatusOr<IpAddress> address = ParseIpAddress(address_text);
  if (!address.ok()) return invalid("is not an IP address");
  const bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed != (address->family == IpAddress::Family::kIpv6 && has_port)) {
    return invalid("mixes address forms");
  }
  Nameserver nameserver;
  nameserver.address = address->ToString();
  if (has_port) {
    uint32_t port = 0;
    if (port_text.find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return invalid("has a port outside 1..65535");
    }
    nameserver.port = static_cast<uint16_t>(port);
  }
  return nameserver;
}

absl::StatusOr<std::unique_ptr<CaresResolver>> CaresResolver::Create(
    const v1::ResolverConfig& config, int tries_per_server) {
  RETURN_IF_ERROR(InitializeCaresLibrary());
  if (tries_per_server < 1 || tries_per_server > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("tries per nameserver must be 1..5, not ", tries_per_server));
  }
  std::vector<Nameserver> nameservers;
  for (const std::string& text : config.nameservers()) {
    ASSIGN_OR_RETURN(Nameserver nameserver, ParseNameserver(text));
    nameservers.push_back(std::move(nameserver));
  }
  return std::unique_ptr<CaresResolver>(
      new CaresResolver(std::move(nameservers), tries_per_server));
}

absl::StatusOr<std::vector<std::string>> CaresResolver::Resolve(const std::string& hostname,
                                                                absl::Duration timeout) {
  ASSIGN_OR_RETURN(Resolution resolution, ResolveWithOutcomes(hostname, timeout));
  if (!resolution.failure.ok()) return resolution.failure;
  return std::move(resolution.addresses);
}

absl::StatusOr<Resolution> CaresResolver::ResolveWithOutcomes(const std::string& hostname,
                                                              absl::Duration timeout) {
  if (ParseIpAddress(hostname).ok()) {
    Resolution literal;
    literal.addresses = {hostname};
    literal.a_outcome = v1::RESOLUTION_NOT_ASKED;
    literal.aaaa_outcome = v1::RESOLUTION_NOT_ASKED;
    return literal;
  }
  if (hostname.empty()) return absl::InvalidArgumentError("hostname is empty");
  const absl::Time deadline = absl::Now() + timeout;

  // Declared before the channel: destroying the channel runs callbacks that write into them.
  std::array<FamilyLookup, 2> lookups = {FamilyLookup(AF_INET), FamilyLookup(AF_INET6)};
  ChannelOwner channel;
  const size_t rounds_of_tries =
      ((size_t{1} << tries_per_server_) - 1) * std::max<size_t>(1, nameservers_.size());
  const absl::Duration try_timeout =
      std::max(kMinimumTryTimeout, timeout / static_cast<int64_t>(rounds_of_tries));
  ares_options options;
  std::memset(&options, 0, sizeof(options));
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  options.lookups = const_cast<char*>("b");  // DNS only; never the local hosts file.
  options.timeout = static_cast<int>(absl::ToInt64Milliseconds(try_timeout));
  options.tries = tries_per_server_;
  const int optmask = ARES_OPT_FLAGS | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  const int initialized = ares_init_options(channel.address(), &options, optmask);
  if (initialized != ARES_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("cannot create a DNS resolver channel: ", ares_strerror(initialized)));
  }
  RETURN_IF_ERROR(ConfigureNameservers(channel.get(), nameservers_));

  // An absolute name: resolv.conf search domains never apply.
  const std::string absolute = hostname.back() == '.' ? hostname : hostname + ".";
  for (FamilyLookup& lookup : lookups) {
    ares_addrinfo_hints hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = lookup.family;
    hints.ai_flags = ARES_AI_NOSORT;  // Keep the answer's order (no RFC 6724 sorting).
    ares_getaddrinfo(channel.get(), absolute.c_str(), /*service=*/nullptr, &hints, OnLookupDone,
                     &lookup);
  }
  RETURN_IF_ERROR(RunUntilDone(channel.get(), lookups, deadline));

  Resolution resolution;
  resolution.a_outcome = OutcomeOf(lookups[0]);
  resolution.aaaa_outcome = OutcomeOf(lookups[1]);
  for (const FamilyLookup& lookup : lookups) {
    for (const std::string& address : lookup.addresses) {
      if (std::find(resolution.addresses.begin(), resolution.addresses.end(), address) ==
          resolution.addresses.end()) {
        resolution.addresses.push_back(address);
      }
    }
  }
  if (!resolution.addresses.empty()) {
    for (const FamilyLookup& lookup : lookups) {
      if (lookup.status == ARES_SUCCESS || IsNoRecords(lookup.status)) continue;
      MECAI_LOG(Warning) << "the " << lookup.record_type() << " query for " << hostname
                         << " failed (" << ares_strerror(lookup.status)
                         << "); using the other family's addresses alone";
    }
    return resolution;
  }
  resolution.failure = NoAddressError(hostname, timeout, lookups);
  const absl::StatusCode code = resolution.failure.code();
  if (code != absl::StatusCode::kNotFound && code != absl::StatusCode::kDeadlineExceeded &&
      code != absl::StatusCode::kUnavailable) {
    return resolution.failure;  // A fault of the agent.
  }
  return resolution;
}

absl::StatusOr<Resolution> Resolver::ResolveWithOutcomes(const std::string& hostname,
                                                         absl::Duration timeout) {
  absl::StatusOr<std::vector<std::string>> addresses = Resolve(hostname, timeout);
  Resolution resolution;
  if (addresses.ok()) {
    resolution.addresses = std::move(*addresses);
    if (resolution.addresses.empty()) {
      resolution.failure =
          absl::NotFoundError(absl::StrCat("the resolver returned no address for ", hostname));
    }
    return resolution;
  }
  switch (addresses.status().code()) {
    case absl::StatusCode::kDeadlineExceeded:
      resolution.a_outcome = resolution.aaaa_outcome = v1::RESOLUTION_TIMEOUT;
      break;
    case absl::StatusCode::kNotFound:     // NXDOMAIN or NODATA: Resolve does not say which.
    case absl::StatusCode::kUnavailable:  // SERVFAIL, REFUSED or another failure.
      break;
    default:
      return addresses.status();
  }
  resolution.failure = addresses.status();
  return resolution;
}

}  // namespace probe_agent
}  // namespace mecai
