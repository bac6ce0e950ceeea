// The origin of the certapproval site (RFC 6454 §4, serialized as in §6.2), against which the page
// checks the Origin header of every POST (docs/APPROVAL.md "Behind a reverse proxy"): the page is
// reached through the public URL of ApprovalConfig.approval_site_url, whatever Host header a
// reverse proxy passes on.
#ifndef MECAI_APPROVAL_WEB_ORIGIN_H_
#define MECAI_APPROVAL_WEB_ORIGIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// "scheme://host[:port]" of an http or https URL: scheme and host in lower case, the port only
// when it is not the scheme's default (80, 443), no path. INVALID_ARGUMENT for anything else (no
// host, userinfo, a port that is not 1..65535).
absl::StatusOr<std::string> WebOriginOfUrl(absl::string_view url);

// True when `origin_header` (an Origin header's value) serializes `site_origin` (a WebOriginOfUrl
// result). "null" and malformed values never match.
bool IsSameWebOrigin(absl::string_view origin_header, const std::string& site_origin);

}  // namespace mecai

#endif  // MECAI_APPROVAL_WEB_ORIGIN_H_
