// The agent's own DNS resolution (ARCHITECTURE.md §1: each agent resolves with its own resolver
// configuration, sharing no cache with other agents). Behind an interface so tests and the prober
// can be given another resolver; only main.cc picks CaresResolver.
#ifndef MECAI_PROBE_AGENT_RESOLVER_H_
#define MECAI_PROBE_AGENT_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// What one resolution found, with the A and AAAA queries' outcomes each on its own.
struct Resolution {
  // As Resolve returns them.
  std::vector<std::string> addresses;
  v1::ResolutionOutcome a_outcome = v1::RESOLUTION_OUTCOME_UNSPECIFIED;
  v1::ResolutionOutcome aaaa_outcome = v1::RESOLUTION_OUTCOME_UNSPECIFIED;
  // OK when `addresses` is not empty; otherwise the error Resolve would return (NOT_FOUND,
  // DEADLINE_EXCEEDED or UNAVAILABLE).
  absl::Status failure;
};

// Implementations are thread-safe.
class Resolver {
 public:
  virtual ~Resolver() = default;

  // The IPv4 and IPv6 addresses of `hostname` in textual form, without duplicates. A literal IP
  // address is returned as given. Errors that describe the name rather than the agent:
  //   NOT_FOUND          the name has no A or AAAA records (NXDOMAIN or NODATA);
  //   DEADLINE_EXCEEDED  no complete answer within `timeout`;
  //   UNAVAILABLE        the nameserver failed (SERVFAIL, REFUSED, unreachable, bad answer).
  // Any other code is a fault of the agent itself (e.g. INTERNAL).
  virtual absl::StatusOr<std::vector<std::string>> Resolve(const std::string& hostname,
                                                           absl::Duration timeout) = 0;

  // Resolve, with each query's outcome. Errors only for faults of the agent (as Resolve's "any
  // other code"); failures of the name are in Resolution::failure. This default derives the
  // outcomes from Resolve's status alone (RESOLUTION_OUTCOME_UNSPECIFIED where it cannot tell).
  virtual absl::StatusOr<Resolution> ResolveWithOutcomes(const std::string& hostname,
                                                         absl::Duration timeout);
};

// A nameserver from ResolverConfig.nameservers.
struct Nameserver {
  std::string address;  // Numeric IPv4 or IPv6 address.
  uint16_t port = 53;
};

// Parses "192.0.2.53", "192.0.2.53:5353", "2001:db8::53" or "[2001:db8::53]:5353". INVALID_ARGUMENT
// otherwise (names are refused: the resolver's own address must not need resolving).
absl::StatusOr<Nameserver> ParseNameserver(const std::string& text);

// Resolves with c-ares (https://c-ares.org), asking only the nameservers of the agent's own
// configuration (or the system's resolv.conf when the configuration names none, which
// ProbeAgentConfig allows only with use_system_resolver). Each Resolve call runs on a channel of
// its own, created from this resolver's configuration and destroyed afterwards, so no cache is
// shared between calls, probes or agents (c-ares 1.18 has no cache, and its channels are not
// thread-safe, which this also respects). The name is asked as an absolute name ("host.") so no
// resolv.conf search domain is appended, and the hosts file is not consulted: answers come from
// DNS only.
//
// The A and AAAA queries are two lookups, judged together as Boulder's bdns LookupHost does: the
// addresses of whichever succeeded are returned, and a failure of the other (SERVFAIL, REFUSED,
// timeout) is logged as a warning and reported in Resolution's a_outcome/aaaa_outcome, which the
// Observation carries: the quorum policy (common/evidence/quorum_policy.h) does not count such a
// perspective as agreeing. Only when neither yields an address does Resolve fail, with the
// most telling error of the two (a fault of the agent, then a timeout, then a nameserver failure,
// then NOT_FOUND). Result order: IPv4 addresses in the order of the A answer, then IPv6 addresses
// in the order of the AAAA answer.
//
// Thread-safe.
class CaresResolver : public Resolver {
 public:
  // Nameservers from `config` ("ip" or "ip:port"); none: the system's /etc/resolv.conf.
  // `tries_per_server`: how often each nameserver is asked before giving up on it (1..5).
  static absl::StatusOr<std::unique_ptr<CaresResolver>> Create(const v1::ResolverConfig& config,
                                                               int tries_per_server = 2);

  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& hostname,
                                                   absl::Duration timeout) override;
  absl::StatusOr<Resolution> ResolveWithOutcomes(const std::string& hostname,
                                                 absl::Duration timeout) override;

 private:
  CaresResolver(std::vector<Nameserver> nameservers, int tries_per_server)
      : nameservers_(std::move(nameservers)), tries_per_server_(tries_per_server) {}

  const std::vector<Nameserver> nameservers_;
  const int tries_per_server_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_RESOLVER_H_
