// The address of the person using the certapproval page (docs/APPROVAL.md "Behind a reverse
// proxy"): the connection's peer, unless the peer is one of ApprovalConfig.web_trusted_proxies;
// then the client its X-Forwarded-For or Forwarded (RFC 7239 §4, "for=") header names, read from
// the right past every trusted proxy. Headers from any other peer are ignored: anyone can send
// them. The proxy must set or append the header it uses and never pass on a client's own.
#ifndef MECAI_APPROVAL_CLIENT_ADDRESS_H_
#define MECAI_APPROVAL_CLIENT_ADDRESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net/http_server.h"
#include "common/net/ip_address.h"

namespace mecai {

// Immutable, so thread-safe.
class ClientAddressResolver {
 public:
  // `trusted_proxies`: CIDR ranges or single addresses. INVALID_ARGUMENT naming the first entry
  // that is neither.
  static absl::StatusOr<ClientAddressResolver> Create(
      const std::vector<std::string>& trusted_proxies);

  // The client's IP address as text. With a trusted peer: X-Forwarded-For when present, else
  // Forwarded; the rightmost entry that is not a trusted proxy, or the leftmost when all
  // are. An entry that is not an IP address ("unknown", an obfuscated identifier, RFC 7239 §6)
  // ends the walk: the last trusted hop is the client then.
  std::string Resolve(const HttpServerRequest& request) const;

  bool IsTrusted(const std::string& address) const;

 private:
  explicit ClientAddressResolver(std::vector<IpPrefix> trusted) : trusted_(std::move(trusted)) {}

  std::vector<IpPrefix> trusted_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_CLIENT_ADDRESS_H_
