#include "common/net/client_address_key.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/net/ip_address.h"

namespace mecai {

namespace {

// The key of a parsed address (see ClientAddressKey).
std::string KeyOf(IpAddress ip) {
  if (ip.family == IpAddress::Family::kIpv4) return ip.ToString();
  if (std::optional<IpAddress> ipv4 = ip.EmbeddedIpv4()) return ipv4->ToString();
  // The interface identifier, the last 64 bits, is the subscriber's own to choose.
  std::memset(ip.bytes.data() + 8, 0, 8);
  return absl::StrCat(ip.ToString(), "/64");
}

}  // namespace

absl::StatusOr<std::string> ClientAddressKey(const sockaddr* address, socklen_t length) {
  if (address == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return absl::InvalidArgumentError("no client address");
  }
  IpAddress ip;
  if (address->sa_family == AF_INET) {
    if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) {
      return absl::InvalidArgumentError(absl::StrCat("an IPv4 address of ", length, " bytes"));
    }
    ip.family = IpAddress::Family::kIpv4;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, 4);
    return ip.ToString();
  }
  if (address->sa_family != AF_INET6) {
    return absl::InvalidArgumentError(
        absl::StrCat("address family ", address->sa_family, " is neither IPv4 nor IPv6"));
  }
  if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    return absl::InvalidArgumentError(absl::StrCat("an IPv6 address of ", length, " bytes"));
  }
  ip.family = IpAddress::Family::kIpv6;
  std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, 16);
  return KeyOf(ip);
}

std::string ClientAddressKeyOfText(absl::string_view address) {
  absl::StatusOr<IpAddress> ip = ParseIpAddress(address.substr(0, address.find('%')));
  if (!ip.ok()) return std::string(address);
  return KeyOf(*ip);
}

}  // namespace mecai
