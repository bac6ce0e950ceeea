// The key under which the TLS relay counts a client's connections and handshakes
// (common/net/tls_relay.h, the per-address limits): one subscriber usually holds a whole IPv6 /64
// (RFC 6177 §2: a /64 is the least an end site is given, RFC 4291 §2.5.1 makes it one subnet), so
// its addresses share one allowance, as an IPv4 address does.
#ifndef MECAI_COMMON_NET_CLIENT_ADDRESS_KEY_H_
#define MECAI_COMMON_NET_CLIENT_ADDRESS_KEY_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// IPv4: the address ("192.0.2.7"). IPv6: its /64 prefix ("2001:db8:1:2::/64"), whatever the
// interface identifier, the zone (sin6_scope_id) or the port. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.7, RFC 4291 §2.5.5.2: an IPv4 client of a dual-stack socket) is its IPv4
// address. INVALID_ARGUMENT for null, another family, or a length too short for the family.
absl::StatusOr<std::string> ClientAddressKey(const sockaddr* address, socklen_t length);

// The same key for a numeric address in text ("192.0.2.7", "2001:db8::1", "fe80::1%eth0"), as the
// public endpoint's admission counts a client's VRs by it; text that is not an IP address is its
// own key.
std::string ClientAddressKeyOfText(absl::string_view address);

}  // namespace mecai

#endif  // MECAI_COMMON_NET_CLIENT_ADDRESS_KEY_H_
