// The phone contacts of a domain from its registry over RDAP (ARCHITECTURE.md §7, MECAI
// phone-approval proposal: "each phone number listed in the domain registry"). RFC 9083 §5.3: a
// domain object lists its contacts as "entities" (§5.1) with "roles" (§10.2.4), each with a jCard
// "vcardArray" (RFC 7095) whose "tel" properties hold the numbers. Only the domain's own
// registrant, administrative and technical contacts hear the approval code: never the registrar,
// its abuse desk, a reseller, or any entity nested inside another (those are the parent's
// contacts, not the domain's).
#ifndef MECAI_APPROVAL_RDAP_H_
#define MECAI_APPROVAL_RDAP_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/net/http_fetcher.h"

namespace mecai {

// One number to call.
struct RdapPhoneContact {
  // "+" and 6..15 digits (E.164).
  std::string number;
  // Digits of the tel URI's ";ext=" parameter (RFC 3966 §5.1.5); empty when none.
  std::string extension;
  // The entity's qualifying roles, "registrant", "administrative", "technical", comma-separated.
  std::string roles;
};

// What a domain object lists.
struct RdapContacts {
  // Distinct numbers (number and extension) in document order, at most max_numbers.
  std::vector<RdapPhoneContact> contacts;
  // Sentences about the numbers not called and why: another role, national format (no country
  // code), not a phone number, beyond max_numbers. For the audit trail; never silently dropped.
  std::vector<std::string> not_called;
};

// A jCard tel value (a "tel:" URI or text) taken apart.
struct ParsedTel {
  // E.164 "+digits"; empty when the value is no international number.
  std::string number;
  std::string extension;
  // Why `number` is empty, a phrase: "is in national format (no country code)", "is not a phone
  // number".
  std::string problem;
};

// Parses one tel value: RFC 3966 visual separators dropped, ";ext=" kept apart, other
// parameters ignored.
ParsedTel ParseTelValue(absl::string_view value);

// "+" and 6..15 digits (E.164), from a tel URI or text, its extension dropped; empty when `value`
// is not an international phone number.
std::string NormalizePhoneNumber(absl::string_view value);

// The voice numbers of the registrant, administrative and technical contacts of the RDAP domain
// object `json` for `domain`, at most `max_numbers`. A jCard "tel" property (RFC 7095 §3.3.1.3 /
// RFC 6350 §6.4.1) counts unless its TYPE parameter names only non-voice kinds ("fax", "pager",
// "textphone" without "voice"). Errors (INVALID_ARGUMENT, a sentence): not JSON, not a domain
// object (objectClassName), ldhName not `domain`.
absl::StatusOr<RdapContacts> ParseRdapContacts(absl::string_view json, absl::string_view domain,
                                               size_t max_numbers);

struct RdapOptions {
  // TLD (lower case, no dot) → base URL ending in "/" (RFC 9224 bootstrap done by configuration).
  std::map<std::string, std::string> base_urls;
  absl::Duration timeout = absl::Seconds(5);
  size_t max_response_bytes = 256 << 10;
  size_t max_numbers = 10;
  // http:// base URLs and redirects allowed (ApprovalConfig.allow_http_for_testing).
  bool allow_http = false;
};

// Redirects followed per lookup at most (RFC 7480 §5.2).
inline constexpr int kMaxRdapRedirects = 3;

// Looks up domains at <base>domain/<domain> (RFC 9082 §3.1.3), asking for application/rdap+json
// (RFC 7480 §4.2) and following up to kMaxRdapRedirects redirects (RFC 7480 §5.2), each to an
// https URL (http too with allow_http). Thread-safe.
class RdapClient {
 public:
  // `fetcher` must outlive the client.
  RdapClient(HttpFetcher& fetcher, RdapOptions options)
      : fetcher_(fetcher), options_(std::move(options)) {}

  // The contacts of `domain` (lower case). NOT_FOUND when no RDAP server is configured for its
  // TLD; PERMISSION_DENIED for an http URL without allow_http; FAILED_PRECONDITION after too many
  // redirects; the fetcher's errors (annotated with the URL); ParseRdapContacts' errors.
  absl::StatusOr<RdapContacts> Lookup(const std::string& domain) const;

 private:
  HttpFetcher& fetcher_;
  const RdapOptions options_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_RDAP_H_
