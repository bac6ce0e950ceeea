// The requester of an issuance request (approval.proto SubmitIssuanceRequestRequest.requester):
// text a CA sends, shown on the certapproval page and never spoken. Refused when it could
// mislead a reader: invalid UTF-8, control characters (Unicode general category Cc, line and
// paragraph separators) and format characters (Cf: bidirectional overrides and isolates,
// zero-width characters, the byte order mark, tag characters), which change how the text looks
// without showing themselves (Unicode Technical Report #36 "Unicode Security Considerations").
#ifndef MECAI_APPROVAL_REQUESTER_H_
#define MECAI_APPROVAL_REQUESTER_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Characters (Unicode code points, not bytes) a requester may have.
inline constexpr size_t kMaxRequesterCharacters = 200;

// True for code points of general category Cf (Unicode 15.0).
bool IsUnicodeFormatCharacter(char32_t code_point);

// OK when `requester` is 1..kMaxRequesterCharacters code points of valid UTF-8 without Cc, Cf,
// Zl or Zp characters and not only spaces. INVALID_ARGUMENT "requester: ..." naming the problem
// (and the offending code point as U+XXXX) otherwise.
absl::Status ValidateRequester(absl::string_view requester);

}  // namespace mecai

#endif  // MECAI_APPROVAL_REQUESTER_H_
