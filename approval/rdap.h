// The phone contacts of a domain from its registry over RDAP (ARCHITECTURE.md §7, MECAI
// phone-approval proposal: "each phone number listed in the domain registry"). RFC 9083 §5.3: a
// domain object lists its contacts as "entities" (§5.1), each with a jCard "vcardArray" (RFC 7095)
// whose "tel" properties hold the numbers; entities may nest entities (a registrar's abuse
// contact).
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

// Every distinct voice phone number of the RDAP domain object `json` for `domain`, in document
// order, normalised to "+" and digits (RFC 3966 visual separators and parameters dropped), at most
// `max_numbers`. A jCard "tel" property (RFC 7095 §3.3.1.3 / RFC 6350 §6.4.1) counts unless its
// TYPE parameter names only non-voice kinds ("fax", "pager", "textphone" without "voice"); its
// value is a "tel:" URI (value type "uri") or text. Errors (INVALID_ARGUMENT, message says why):
// not JSON, not a domain object (objectClassName), ldhName not `domain`.
absl::StatusOr<std::vector<std::string>> ParseRdapPhoneNumbers(absl::string_view json,
                                                               absl::string_view domain,
                                                               size_t max_numbers);

// "+" and 6..15 digits (E.164), from a tel URI or text; empty when `value` is not a phone number.
std::string NormalizePhoneNumber(absl::string_view value);

struct RdapOptions {
  // TLD (lower case, no dot) → base URL ending in "/" (RFC 9224 bootstrap done by configuration).
  std::map<std::string, std::string> base_urls;
  absl::Duration timeout = absl::Seconds(5);
  size_t max_response_bytes = 256 << 10;
  size_t max_numbers = 10;
};

// Looks up domains at <base>domain/<domain> (RFC 9082 §3.1.3). Thread-safe.
class RdapClient {
 public:
  // `fetcher` must outlive the client.
  RdapClient(HttpFetcher& fetcher, RdapOptions options)
      : fetcher_(fetcher), options_(std::move(options)) {}

  // The phone numbers of `domain` (lower case). NOT_FOUND when no RDAP server is configured for
  // its TLD; the fetcher's errors (annotated with the URL); ParseRdapPhoneNumbers' errors.
  absl::StatusOr<std::vector<std::string>> LookupPhoneNumbers(const std::string& domain) const;

 private:
  HttpFetcher& fetcher_;
  const RdapOptions options_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_RDAP_H_
