// Which addresses the cluster may connect to on behalf of untrusted input — probe targets, CRL and
// OCSP URLs, RDAP and gateway URLs (trust rule 6, "No SSRF"): never a special-purpose
// address of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates)
// — loopback, private, link-local (169.254.169.254, the cloud metadata service), shared CGNAT
// space, documentation, multicast, reserved — unless the agent's configuration allowlists its
// range.
#ifndef MECAI_COMMON_NET_ADDRESS_POLICY_H_
#define MECAI_COMMON_NET_ADDRESS_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/net/ip_address.h"

namespace mecai {

// One row of the special-purpose table.
struct SpecialPurposeRange {
  IpPrefix prefix;
  // What the range is and the RFC reserving it, e.g. "link-local (RFC 3927)".
  std::string description;
};

// Every range the agent refuses by default, IPv4 then IPv6, more specific ranges first.
const std::vector<SpecialPurposeRange>& SpecialPurposeRanges();

// The row containing `address`, or nullptr for an ordinary (globally reachable) address. An
// IPv4-mapped IPv6 address (::ffff:0:0/96, RFC 4291 §2.5.5.2) reaches its embedded IPv4 address, so
// it is judged by that address.
const SpecialPurposeRange* FindSpecialPurposeRange(const IpAddress& address);

// The allowlist of one agent on top of the fixed special-purpose table. Immutable, so thread-safe.
class AddressPolicy {
 public:
  // `allowed_cidrs`: ranges ("127.0.0.0/8", "::1/128") the agent may connect to although they are
  // special-purpose. INVALID_ARGUMENT naming the first entry that is not a CIDR range.
  static absl::StatusOr<AddressPolicy> Create(const std::vector<std::string>& allowed_cidrs);

  // True when `ip` is in a special-purpose range (allowlist not consulted). Text that is not an IP
  // address counts as special: the policy fails closed.
  static bool IsSpecialPurpose(const std::string& ip);

  // OK when `ip` is an ordinary address or inside an allowed range. PERMISSION_DENIED naming the
  // special-purpose range otherwise; INVALID_ARGUMENT when `ip` is not an IP address.
  absl::Status CheckAllowed(const std::string& ip) const;

  const std::vector<IpPrefix>& allowed_ranges() const { return allowed_ranges_; }

 private:
  explicit AddressPolicy(std::vector<IpPrefix> allowed_ranges)
      : allowed_ranges_(std::move(allowed_ranges)) {}

  std::vector<IpPrefix> allowed_ranges_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_ADDRESS_POLICY_H_
