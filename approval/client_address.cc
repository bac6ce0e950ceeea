#include "approval/client_address.h"

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mecai {
namespace {

// One node of a Forwarded "for=" parameter (RFC 7239 §6) or an X-Forwarded-For entry, without
// quotes, brackets and port: "192.0.2.60", "\"[2001:db8:cafe::17]:4711\"", "198.51.100.1:80".
std::string NodeAddress(absl::string_view node) {
  node = absl::StripAsciiWhitespace(node);
  if (node.size() >= 2 && node.front() == '"' && node.back() == '"') {
    node = node.substr(1, node.size() - 2);
  }
  if (absl::ConsumePrefix(&node, "[")) {
    const size_t close = node.find(']');
    return close == absl::string_view::npos ? "" : std::string(node.substr(0, close));
  }
  // IPv4 with a port; a bare IPv6 address (X-Forwarded-For) has more than one colon.
  if (std::count(node.begin(), node.end(), ':') == 1) node = node.substr(0, node.find(':'));
  return std::string(node);
}

// The chain of client addresses a proxy reported, leftmost (farthest) first: X-Forwarded-For, which
// nearly every proxy sets or appends to, else Forwarded.
std::vector<std::string> ForwardedChain(const HttpServerRequest& request) {
  std::vector<std::string> chain;
  auto x_forwarded_for = request.headers.find("x-forwarded-for");
  if (x_forwarded_for != request.headers.end()) {
    for (absl::string_view entry : absl::StrSplit(x_forwarded_for->second, ',')) {
      chain.push_back(NodeAddress(entry));
    }
    return chain;
  }
  auto forwarded = request.headers.find("forwarded");
  if (forwarded != request.headers.end()) {
    for (absl::string_view element : absl::StrSplit(forwarded->second, ',')) {
      for (absl::string_view pair : absl::StrSplit(element, ';')) {
        pair = absl::StripAsciiWhitespace(pair);
        if (pair.size() > 4 && absl::EqualsIgnoreCase(pair.substr(0, 4), "for=")) {
          chain.push_back(NodeAddress(pair.substr(4)));
        }
      }
    }
  }
  return chain;
}

}  // namespace

absl::StatusOr<ClientAddressResolver> ClientAddressResolver::Create(
    const std::vector<std::string>& trusted_proxies) {
  std::vector<IpPrefix> trusted;
  for (const std::string& entry : trusted_proxies) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(entry);
    if (!prefix.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\" is not an IP address or CIDR range"));
    }
    trusted.push_back(*prefix);
  }
  return ClientAddressResolver(std::move(trusted));
}

bool ClientAddressResolver::IsTrusted(const std::string& address) const {
  absl::StatusOr<IpAddress> parsed = ParseIpAddress(address);
  if (!parsed.ok()) return false;
  // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
  std::optional<IpAddress> embedded = parsed->EmbeddedIpv4();
  for (const IpPrefix& prefix : trusted_) {
    if (prefix.Contains(*parsed) || (embedded.has_value() && prefix.Contains(*embedded))) {
      return true;
    }
  }
  return false;
}

std::string ClientAddressResolver::Resolve(const HttpServerRequest& request) const {
  std::string client = request.remote_address;
  if (!IsTrusted(client)) return client;
  const std::vector<std::string> chain = ForwardedChain(request);
  for (auto node = chain.rbegin(); node != chain.rend(); ++node) {
    absl::StatusOr<IpAddress> address = ParseIpAddress(*node);
    if (!address.ok()) return client;
    client = address->ToString();
    if (!IsTrusted(client)) return client;
  }
  return client;
}

}  // namespace mecai
