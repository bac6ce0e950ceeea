// Numeric IP addresses and CIDR prefixes, parsed without any name resolution (trust rule 6: the
// agent connects to the address it checked, so every address it handles is a literal).
#ifndef MECAI_COMMON_NET_IP_ADDRESS_H_
#define MECAI_COMMON_NET_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// An IPv4 or IPv6 address in network byte order. IPv4 uses bytes[0..3]. A value type.
struct IpAddress {
  enum class Family { kIpv4, kIpv6 };

  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes = {};

  int bit_length() const { return family == Family::kIpv4 ? 32 : 128; }

  // RFC 4291 §2.5.5.2 IPv4-mapped IPv6 address (::ffff:a.b.c.d).
  bool IsIpv4Mapped() const;
  // The IPv4 address inside an IPv4-mapped IPv6 address; nullopt for anything else.
  std::optional<IpAddress> EmbeddedIpv4() const;

  // Dotted quad for IPv4; RFC 5952 canonical text for IPv6 (inet_ntop).
  std::string ToString() const;

  bool operator==(const IpAddress& other) const {
    return family == other.family && bytes == other.bytes;
  }
};

// Parses a dotted-quad IPv4 address or an RFC 4291 §2.2 IPv6 address (no zone index, no brackets).
// Never resolves names. INVALID_ARGUMENT otherwise.
absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text);

// An address prefix, "192.0.2.0/24" or "2001:db8::/32" (RFC 4632 §3.1 notation).
struct IpPrefix {
  IpAddress network;
  int length = 0;

  // True when `address` has this prefix's family and its first `length` bits.
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// Parses "address/length". A bare address is a host prefix (/32 or /128). Host bits set beyond the
// length ("10.0.0.1/8") are an error, since they usually mean a typing mistake. INVALID_ARGUMENT
// naming the text otherwise.
absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text);

}  // namespace mecai

#endif  // MECAI_COMMON_NET_IP_ADDRESS_H_
