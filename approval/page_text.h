// Text of the certapproval page (ARCHITECTURE.md §7): HTML escaping, a visible form of characters
// that would otherwise hide or reorder what a person reads (Unicode format and control
// characters, e.g. U+202E RIGHT-TO-LEFT OVERRIDE: Unicode Technical Report #36, "Bidirectional Text
// Spoofing"), and times as people read them.
#ifndef MECAI_APPROVAL_PAGE_TEXT_H_
#define MECAI_APPROVAL_PAGE_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mecai {

// HTML text escaping of & < > " ' (for element content and quoted attribute values).
std::string HtmlEscape(absl::string_view text);

// `text` (UTF-8) for showing as HTML: escaped, with every format character (general category Cf:
// bidirectional controls, zero-width characters, BOM, tag characters...) and control character
// shown as a visible "[U+XXXX]", and invalid UTF-8 as U+FFFD. Wrap it in <bdi> so that
// right-to-left text inside does not reorder what surrounds it.
std::string VisibleText(absl::string_view text);

// "2026-12-06 10:15 UTC".
std::string FormatUtcTime(int64_t unix_milliseconds);

// "1 minute", "12 minutes": the whole minutes left until `until`, rounded up (0 once past).
std::string MinutesLeft(absl::Time now, int64_t until_unix_milliseconds);

// "1 minute", "60 minutes" for a duration, rounded up to whole minutes (at least 1).
std::string MinutesText(absl::Duration duration);

}  // namespace mecai

#endif  // MECAI_APPROVAL_PAGE_TEXT_H_
