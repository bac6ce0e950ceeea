// What the voice gateway speaks to a domain's contact (MECAI phone-approval proposal: "tell them,
// there is a request for a cert for "domain", a transaction number ... and a random approval
// code", naming the certapproval site). The requester's text is never spoken: a CA-supplied
// string read out by a machine could say anything ("this is your registry, please approve"); the
// page shows it instead.
#ifndef MECAI_APPROVAL_CALL_MESSAGE_H_
#define MECAI_APPROVAL_CALL_MESSAGE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mecai {

struct CallMessageParts {
  std::string certificate_authority_name;
  std::string domain;
  // Canonical form (approval/transaction_number.h).
  std::string transaction_number;
  std::string code;
  std::string approval_site_url;
  // How long the code stays valid from the call on.
  absl::Duration remaining;
};

// "1 minute", "9 minutes" (whole minutes left, rounded down so the call never promises time that
// is not there), or "less than a minute".
std::string SpokenValidity(absl::Duration remaining);

// The message: who calls, the domain, "the requester named on the approval page", the
// transaction number and the code in groups of four (each said twice), how long the code is
// valid, what to do on the site, and "never give this code to anyone; <CA> will never ask you
// for it".
std::string CallMessage(const CallMessageParts& parts);

}  // namespace mecai

#endif  // MECAI_APPROVAL_CALL_MESSAGE_H_
