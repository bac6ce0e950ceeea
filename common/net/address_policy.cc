#include "common/net/address_policy.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"

namespace mecai {
namespace {

struct RangeText {
  const char* prefix;
  const char* description;
};

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 §2.2.2 and updates), plus multicast
// (RFC 5771) and the reserved 240.0.0.0/4, which the registry lists elsewhere. Rows the registry
// marks "Globally Reachable: True" (AS112 192.31.196.0/24 and 192.175.48.0/24, AMT 192.52.193.0/24)
// are ordinary destinations and left out. Inside 192.0.0.0/24 a few /32s are globally reachable;
// the agent refuses the whole /24, since no TLS server lives there.
constexpr RangeText kIpv4Ranges[] = {
    {"0.0.0.0/8", "\"this network\" (RFC 791 §3.2)"},
    {"10.0.0.0/8", "private use (RFC 1918)"},
    {"100.64.0.0/10", "shared address space for carrier-grade NAT (RFC 6598)"},
    {"127.0.0.0/8", "loopback (RFC 1122 §3.2.1.3)"},
    {"169.254.0.0/16", "link-local, incl. the cloud metadata service 169.254.169.254 (RFC 3927)"},
    {"172.16.0.0/12", "private use (RFC 1918)"},
    {"192.0.0.0/24", "IETF protocol assignments (RFC 6890 §2.1)"},
    {"192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"},
    {"192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"},
    {"192.168.0.0/16", "private use (RFC 1918)"},
    {"198.18.0.0/15", "benchmarking (RFC 2544)"},
    {"198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"},
    {"203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"},
    {"224.0.0.0/4", "multicast (RFC 5771)"},
    {"255.255.255.255/32", "limited broadcast (RFC 919 §7)"},
    {"240.0.0.0/4", "reserved (RFC 1112 §4)"},
};

// IANA IPv6 Special-Purpose Address Registry (RFC 6890 §2.2.3 and updates), plus multicast
// (RFC 4291 §2.7) and the deprecated IPv4-compatible and site-local ranges. ::ffff:0:0/96 is not a
// row: an IPv4-mapped address is judged by the IPv4 address it embeds. The translation prefixes
// 64:ff9b::/96 and 64:ff9b:1::/48 are refused although the first is globally reachable: a NAT64
// gateway would carry the connection to whatever IPv4 address is embedded, special or not; so
// are 2002::/16 (6to4) and the whole of 2001::/23, for the same reason and because no TLS server
// of a Vouching Request lives there.
constexpr RangeText kIpv6Ranges[] = {
    {"::/128", "unspecified address (RFC 4291 §2.5.2)"},
    {"::1/128", "loopback (RFC 4291 §2.5.3)"},
    {"::/96", "deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1)"},
    {"64:ff9b::/96", "IPv4/IPv6 translation (RFC 6052)"},
    {"64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"},
    {"100::/64", "discard-only (RFC 6666)"},
    {"2001::/23", "IETF protocol assignments, incl. Teredo (RFC 2928, RFC 4380)"},
    {"2001:db8::/32", "documentation (RFC 3849)"},
    {"2002::/16", "6to4 (RFC 3056)"},
    {"3fff::/20", "documentation (RFC 9637)"},
    {"5f00::/16", "segment routing SIDs (RFC 9602)"},
    {"fc00::/7", "unique local (RFC 4193)"},
    {"fe80::/10", "link-local unicast (RFC 4291 §2.5.6)"},
    {"fec0::/10", "deprecated site-local (RFC 3879)"},
    {"ff00::/8", "multicast (RFC 4291 §2.7)"},
};

std::vector<SpecialPurposeRange> BuildTable() {
  std::vector<SpecialPurposeRange> table;
  auto add = [&table](const RangeText& row) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(row.prefix);
    if (!prefix.ok()) {
      // The table is a compile-time constant checked by address_policy_test; a bad row is a
      // programming error, and refusing to start beats an agent without its SSRF guard.
      MECAI_LOG(Error) << "special-purpose table: " << prefix.status();
      std::abort();
    }
    table.push_back({*prefix, row.description});
  };
  for (const RangeText& row : kIpv4Ranges) add(row);
  for (const RangeText& row : kIpv6Ranges) add(row);
  return table;
}

// An IPv4-mapped IPv6 address as its IPv4 address; anything else unchanged.
IpAddress Effective(const IpAddress& address) {
  std::optional<IpAddress> ipv4 = address.EmbeddedIpv4();
  return ipv4.has_value() ? *ipv4 : address;
}

}  // namespace

const std::vector<SpecialPurposeRange>& SpecialPurposeRanges() {
  static const std::vector<SpecialPurposeRange>* const table =
      new std::vector<SpecialPurposeRange>(BuildTable());
  return *table;
}

const SpecialPurposeRange* FindSpecialPurposeRange(const IpAddress& address) {
  const IpAddress effective = Effective(address);
  for (const SpecialPurposeRange& range : SpecialPurposeRanges()) {
    if (range.prefix.Contains(effective)) return &range;
  }
  return nullptr;
}

absl::StatusOr<AddressPolicy> AddressPolicy::Create(const std::vector<std::string>& allowed_cidrs) {
  std::vector<IpPrefix> allowed;
  for (const std::string& text : allowed_cidrs) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(text);
    if (!prefix.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed special address range ", prefix.status().message()));
    }
    allowed.push_back(*prefix);
  }
  return AddressPolicy(std::move(allowed));
}

bool AddressPolicy::IsSpecialPurpose(const std::string& ip) {
  absl::StatusOr<IpAddress> address = ParseIpAddress(ip);
  return !address.ok() || FindSpecialPurposeRange(*address) != nullptr;
}

absl::Status AddressPolicy::CheckAllowed(const std::string& ip) const {
  absl::StatusOr<IpAddress> address = ParseIpAddress(ip);
  if (!address.ok()) return address.status();
  const SpecialPurposeRange* range = FindSpecialPurposeRange(*address);
  if (range == nullptr) return absl::OkStatus();
  const IpAddress effective = Effective(*address);
  for (const IpPrefix& allowed : allowed_ranges_) {
    if (allowed.Contains(effective) || allowed.Contains(*address)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "address ", ip, " is in the special-purpose range ", range->prefix.ToString(), ", ",
      range->description, ", which allowed_special_address_ranges does not list (trust rule 6)"));
}

}  // namespace mecai
