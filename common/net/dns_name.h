// The one hostname rule of MECAI: what a DNS name (or, where allowed, an IP literal) must look like
// wherever a hostname enters a component, and the two comparisons on names (at or below a domain;
// an RFC 6125 wildcard). Pure string functions: no resolution, no I/O, no gRPC.
//
// Which option set each caller uses (the named constants below):
// - hostname_rules::kVouchingRequest: VouchingRequestBody.hostname, in the coordinator's and the
//   signer's VR check (common/evidence/vouching_request.cc), and in the stapler and `mecai vouch`,
//   which build VRs.
// - hostname_rules::kProbeTask: ProbeTask.hostname at the probe agent (probe_agent/prober.cc): the
//   same names, plus canonical IP literals (`mecai probe`).
// - hostname_rules::kApprovalDomain: SubmitIssuanceRequestRequest.domain (approval/approvals.cc),
//   after CanonicalHostname.
// - hostname_rules::kApprovalName: every name of a CSR sent for approval, after CanonicalHostname;
//   a leading "*." allowed.
// - HostnameRules() (a DNS name, no wildcard, no IP literal): the identities of `mecai pki`.
// A name the coordinator accepts in a VR is therefore always one the agents accept in a ProbeTask
// (probe_agent/hostname_agreement_test.cc holds them to it).
#ifndef MECAI_COMMON_NET_DNS_NAME_H_
#define MECAI_COMMON_NET_DNS_NAME_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mecai {

// The options of ValidateHostname. The rules themselves are not options.
struct HostnameRules {
  // Accept an IPv4 or IPv6 address literal, only in canonical text: dotted quad for IPv4, RFC 5952
  // §4 for IPv6 (lower case, "::" for the longest run of zero groups, no leading zeros), no
  // brackets, no zone index.
  bool allow_ip_literal = false;
  // Accept "*" as the whole left-most label (RFC 6125 §6.4.3), e.g. a certificate's or a CSR's
  // "*.example.com".
  bool allow_wildcard = false;
  // At least this many labels, not counting a wildcard label ("*.example.com" has two). Values
  // below 1 mean 1.
  int min_labels = 1;
};

namespace hostname_rules {

// VouchingRequestBody.hostname (docs/PROTOCOL.md: "must be lower-case LDH / A-labels"): a DNS
// name only. The certificate is matched to it by its DNS-IDs (RFC 6125, X509_check_host), so an IP
// literal could never match and is refused as malformed; a VR names a host, never a wildcard.
inline constexpr HostnameRules kVouchingRequest = {/*allow_ip_literal=*/false,
                                                   /*allow_wildcard=*/false, /*min_labels=*/1};

// ProbeTask.hostname: what a VR may name, plus a canonical IP literal, which the agent connects to
// without resolving and without SNI (RFC 6066 §3). The coordinator never sends one (its VR rule
// refuses them); `mecai probe --host 192.0.2.1` and the agent's tests do.
inline constexpr HostnameRules kProbeTask = {/*allow_ip_literal=*/true, /*allow_wildcard=*/false,
                                             /*min_labels=*/1};

// The registered domain an issuance approval is for (docs/APPROVAL.md): at least two labels (RDAP
// knows no TLD-only or single-label domain), no wildcard, no IP literal.
inline constexpr HostnameRules kApprovalDomain = {/*allow_ip_literal=*/false,
                                                  /*allow_wildcard=*/false, /*min_labels=*/2};

// A dNSName (or CN) of a CSR sent for approval: as kApprovalDomain, and a leading wildcard label.
inline constexpr HostnameRules kApprovalName = {/*allow_ip_literal=*/false,
                                                /*allow_wildcard=*/true, /*min_labels=*/2};

}  // namespace hostname_rules

// OK when `name` is a hostname under `rules`; otherwise INVALID_ARGUMENT whose message begins
// `hostname "<name>": ` (C-escaped, cut after 64 characters when longer than 253 octets), says
// which rule failed, names the offending label and cites the RFC, e.g.
//   hostname "ab--cd.example": label "ab--cd" has "--" in positions 3-4, reserved for A-labels
//   (RFC 5890 §2.3.1)
// The rules, in the order they are checked (the first that fails is reported):
//   - Not empty, and at most 253 octets in all (RFC 1035 §2.3.4: 255 octets in wire form are 253
//     characters of text without the root label's dot).
//   - An IPv4 or IPv6 literal (ParseIpAddress of common/net/ip_address.h) is accepted only
//     when rules.allow_ip_literal, and then only in its canonical text (RFC 5952 §4 for IPv6); the
//     rules below do not apply to it. "[::1]" is not a literal (no brackets).
//   - No trailing dot: "www.example.com." is refused, not stripped, as the VR path always has, so
//     every name has one spelling in VRs, Observations, records and VDs.
//   - Labels separated by "."; from the left, each label:
//     - a wildcard "*" only when rules.allow_wildcard and only as the whole left-most label:
//       "*.example.com", never "a.*.example" (RFC 6125 §6.4.3);
//     - 1..63 octets (RFC 1035 §2.3.4): no empty label, so no leading dot and no "..";
//     - ASCII only: a U-label or any byte >= 0x80 is refused; internationalized names are sent
//       as A-labels, "xn--" + Punycode (RFC 5890 §2.3.2.1), whose Punycode is not decoded here;
//     - lower case only: DNS compares names case-insensitively (RFC 4343), and every field that
//       carries a hostname carries its canonical form (CanonicalHostname); callers that take names
//       from people or CSRs canonicalize first. IsWithinDomain and WildcardMatches ignore case;
//     - no "*" inside a label ("w*.example.com", a partial wildcard, RFC 6125 §6.4.3);
//     - LDH (RFC 952, RFC 1123 §2.1): letters, digits and "-" only, a digit may come first (RFC
//       1123 §2.1); no "_", space, ":", "[" or other punctuation;
//     - does not start or end with "-" (RFC 952, RFC 1123 §2.1);
//     - not an R-LDH label, "--" in positions 3 and 4 (RFC 5890 §2.3.1), unless it is an A-label
//       ("xn--", any case).
//   - A wildcard has a parent domain ("*" alone is refused), and there are at least
//     rules.min_labels labels besides a wildcard label.
//   - The top-level (last) label is not all digits (RFC 3696 §2), so "1.2.3.4" or "192.168.1.256"
//     is never taken as a name.
absl::Status ValidateHostname(absl::string_view name, const HostnameRules& rules);

// The canonical form every hostname field carries and every comparison uses: ASCII letters lower
// cased, nothing else changed. A trailing dot is kept, so ValidateHostname still refuses it; bytes
// >= 0x80 are kept, so it still refuses a U-label. Validate the result, not the input.
std::string CanonicalHostname(absl::string_view name);

// True when `name` is `domain` or below it, label-wise and ignoring ASCII case: "www.example.com"
// and "example.com" are within "example.com", "badexample.com" is not. A leading wildcard label is
// an ordinary label here, so "*.example.com" is within "example.com". False for an empty `domain`.
// Both are expected to be valid names (ValidateHostname); neither is validated here.
bool IsWithinDomain(absl::string_view name, absl::string_view domain);

// RFC 6125 §6.4.3: `pattern` (a certificate or CSR name, "www.example.com" or "*.example.com")
// matches `hostname`, ignoring ASCII case (§6.4.1). A wildcard is only the whole left-most label
// and stands for exactly one non-empty label: "*.example.com" matches "www.example.com", not
// "example.com" nor "a.www.example.com". "w*.example.com" and "*" are no wildcards: they are
// compared as they are, so they match only the same text.
bool WildcardMatches(absl::string_view pattern, absl::string_view hostname);

}  // namespace mecai

#endif  // MECAI_COMMON_NET_DNS_NAME_H_
