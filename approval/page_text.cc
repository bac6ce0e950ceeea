#include "approval/page_text.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mecai {
namespace {

// Unicode general category Cf (Unicode 15.1, DerivedGeneralCategory.txt), as ranges.
constexpr struct {
  uint32_t first;
  uint32_t last;
} kFormatCharacters[] = {
    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
    {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
    {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
};

bool IsHiddenCharacter(uint32_t code_point) {
  // Controls (Cc): C0, DEL and C1.
  if (code_point < 0x20 || (code_point >= 0x7F && code_point < 0xA0)) return true;
  for (const auto& range : kFormatCharacters) {
    if (code_point >= range.first && code_point <= range.last) return true;
  }
  return false;
}

// Decodes one UTF-8 sequence at the start of `text` (RFC 3629 §3, no overlongs or surrogates);
// returns its length, or 0 for an invalid one.
size_t DecodeUtf8(absl::string_view text, uint32_t* code_point) {
  const auto byte = [&text](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  uint32_t value = 0;
  uint32_t minimum = 0;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *code_point = value;
  return length;
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped.push_back(c);
    }
  }
  return escaped;
}

std::string VisibleText(absl::string_view text) {
  std::string shown;
  shown.reserve(text.size());
  while (!text.empty()) {
    uint32_t code_point = 0;
    const size_t length = DecodeUtf8(text, &code_point);
    if (length == 0) {
      shown += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER.
      text.remove_prefix(1);
      continue;
    }
    if (IsHiddenCharacter(code_point)) {
      absl::StrAppend(&shown, absl::StrFormat("[U+%04X]", code_point));
    } else {
      shown += HtmlEscape(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return shown;
}

std::string FormatUtcTime(int64_t unix_milliseconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixMillis(unix_milliseconds),
                          absl::UTCTimeZone());
}

std::string MinutesText(absl::Duration duration) {
  int64_t minutes = absl::ToInt64Minutes(absl::Ceil(duration, absl::Minutes(1)));
  if (minutes < 1) minutes = 1;
  return absl::StrCat(minutes, minutes == 1 ? " minute" : " minutes");
}

std::string MinutesLeft(absl::Time now, int64_t until_unix_milliseconds) {
  const absl::Duration left = absl::FromUnixMillis(until_unix_milliseconds) - now;
  if (left <= absl::ZeroDuration()) return "0 minutes";
  return MinutesText(left);
}

}  // namespace mecai
