#include "approval/web_origin.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mecai {

absl::StatusOr<std::string> WebOriginOfUrl(absl::string_view url) {
  const std::string lower = absl::AsciiStrToLower(url);
  absl::string_view rest = lower;
  std::string scheme;
  if (absl::ConsumePrefix(&rest, "https://")) {
    scheme = "https";
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    scheme = "http";
  } else {
    return absl::InvalidArgumentError("must be an http(s) URL");
  }
  const size_t end = rest.find_first_of("/?#");
  const absl::string_view authority = rest.substr(0, end);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError("must not carry a user name or password");
  }
  absl::string_view host = authority;
  absl::string_view port_text;
  // "[v6]:port", "host:port" or a bare host.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError("must name a host");
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '[' &&
        c != ']' && c != ':') {
      return absl::InvalidArgumentError("must name a host of letters, digits, dots and dashes");
    }
  }
  uint32_t port = 0;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535)) {
    return absl::InvalidArgumentError("must have a port of 1..65535");
  }
  const uint32_t default_port = scheme == "https" ? 443 : 80;
  if (port == 0 || port == default_port) return absl::StrCat(scheme, "://", host);
  return absl::StrCat(scheme, "://", host, ":", port);
}

bool IsSameWebOrigin(absl::string_view origin_header, const std::string& site_origin) {
  // An Origin is a serialized origin without path (RFC 6454 §7.1); a trailing slash is not one.
  const size_t scheme_end = origin_header.find("://");
  if (scheme_end == absl::string_view::npos ||
      origin_header.find_first_of("/?#", scheme_end + 3) != absl::string_view::npos) {
    return false;
  }
  absl::StatusOr<std::string> origin = WebOriginOfUrl(origin_header);
  return origin.ok() && *origin == site_origin;
}

}  // namespace mecai
