#include "common/net/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mecai {

bool IpAddress::IsIpv4Mapped() const {
  if (family != Family::kIpv6) return false;
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::optional<IpAddress> IpAddress::EmbeddedIpv4() const {
  if (!IsIpv4Mapped()) return std::nullopt;
  IpAddress ipv4;
  ipv4.family = Family::kIpv4;
  std::memcpy(ipv4.bytes.data(), bytes.data() + 12, 4);
  return ipv4;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family == Family::kIpv4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof(text));
  return text;
}

absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text) {
  const std::string terminated(text);
  IpAddress address;
  // inet_pton (POSIX.1-2017) accepts only the dotted-quad form for AF_INET: no octal, no
  // shortened "127.1", which a name resolver might read differently.
  if (inet_pton(AF_INET, terminated.c_str(), address.bytes.data()) == 1) {
    address.family = IpAddress::Family::kIpv4;
    return address;
  }
  if (inet_pton(AF_INET6, terminated.c_str(), address.bytes.data()) == 1) {
    address.family = IpAddress::Family::kIpv6;
    return address;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IP address"));
}

bool IpPrefix::Contains(const IpAddress& address) const {
  if (address.family != network.family) return false;
  const int whole_bytes = length / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), whole_bytes) != 0) return false;
  const int remaining_bits = length % 8;
  if (remaining_bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - remaining_bits));
  return (address.bytes[whole_bytes] & mask) == (network.bytes[whole_bytes] & mask);
}

std::string IpPrefix::ToString() const { return absl::StrCat(network.ToString(), "/", length); }

absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text) {
  const size_t slash = text.find('/');
  const absl::string_view address_text = text.substr(0, slash);
  absl::StatusOr<IpAddress> address = ParseIpAddress(address_text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a CIDR range: '",
                                                   address_text, "' is not an IP address"));
  }
  IpPrefix prefix;
  prefix.network = *address;
  prefix.length = address->bit_length();
  if (slash != absl::string_view::npos) {
    const absl::string_view length_text = text.substr(slash + 1);
    int length = -1;
    const bool all_digits = !length_text.empty() && length_text.size() <= 3 &&
                            length_text.find_first_not_of("0123456789") == absl::string_view::npos;
    if (!all_digits || !absl::SimpleAtoi(length_text, &length) || length > address->bit_length()) {
      return absl::InvalidArgumentError(absl::StrCat("'", text,
                                                     "' is not a CIDR range: the prefix length "
                                                     "must be 0..",
                                                     address->bit_length()));
    }
    prefix.length = length;
  }
  IpPrefix network_only = prefix;
  for (int bit = prefix.length; bit < prefix.network.bit_length(); ++bit) {
    network_only.network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (!(network_only.network == prefix.network)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text,
                                                   "' is not a CIDR range: it has host bits "
                                                   "set (did you mean ",
                                                   network_only.ToString(), "?)"));
  }
  return prefix;
}

}  // namespace mecai
