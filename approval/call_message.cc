#include "approval/call_message.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "approval/transaction_number.h"

namespace mecai {

std::string SpokenValidity(absl::Duration remaining) {
  const int64_t minutes = absl::ToInt64Minutes(remaining);  // Rounds toward zero.
  if (minutes < 1) return "less than a minute";
  return absl::StrCat(minutes, minutes == 1 ? " minute" : " minutes");
}

std::string CallMessage(const CallMessageParts& parts) {
  const std::string transaction_number = SpokenInGroups(parts.transaction_number);
  const std::string code = SpokenInGroups(parts.code);
  return absl::StrCat(
      "This is ", parts.certificate_authority_name, ". A certificate was requested for the domain ",
      parts.domain,
      " by the requester named on the approval page. Transaction number: ", transaction_number,
      ". Approval code: ", code, ". The code is valid for ", SpokenValidity(parts.remaining),
      ". If you expect this certificate, go to ", parts.approval_site_url,
      " , enter the transaction number, check the request and approve it with the code. If you "
      "do not expect it, reject it there. Never give this code to anyone; ",
      parts.certificate_authority_name,
      " will never ask you for it. Once more: the transaction number is ", transaction_number,
      ", and the code is ", code, ".");
}

}  // namespace mecai
