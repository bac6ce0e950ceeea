#include "approval/requester.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mecai {
namespace {

struct Range {
  char32_t first;
  char32_t last;
};

// General category Cf, Unicode 15.0 (UnicodeData.txt).
constexpr Range kFormatCharacters[] = {
    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
    {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
    {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
};

// Decodes one UTF-8 sequence at `text[*position]` (RFC 3629: shortest form, no surrogates, at
// most U+10FFFF) and advances; false when the bytes there are not one.
bool DecodeUtf8(absl::string_view text, size_t* position, char32_t* code_point) {
  const unsigned char first = static_cast<unsigned char>(text[*position]);
  size_t length = 0;
  char32_t value = 0;
  if (first < 0x80) {
    length = 1;
    value = first;
  } else if (first >= 0xC2 && first <= 0xDF) {
    length = 2;
    value = first & 0x1F;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3;
    value = first & 0x0F;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4;
    value = first & 0x07;
  } else {
    return false;
  }
  if (*position + length > text.size()) return false;
  for (size_t i = 1; i < length; ++i) {
    const unsigned char next = static_cast<unsigned char>(text[*position + i]);
    if ((next & 0xC0) != 0x80) return false;
    value = (value << 6) | (next & 0x3F);
  }
  if ((length == 3 && value < 0x800) || (length == 4 && (value < 0x10000 || value > 0x10FFFF)) ||
      (value >= 0xD800 && value <= 0xDFFF)) {
    return false;
  }
  *position += length;
  *code_point = value;
  return true;
}

}  // namespace

bool IsUnicodeFormatCharacter(char32_t code_point) {
  for (const Range& range : kFormatCharacters) {
    if (code_point >= range.first && code_point <= range.last) return true;
  }
  return false;
}

absl::Status ValidateRequester(absl::string_view requester) {
  size_t characters = 0;
  bool visible = false;
  for (size_t position = 0; position < requester.size();) {
    char32_t code_point = 0;
    if (!DecodeUtf8(requester, &position, &code_point)) {
      return absl::InvalidArgumentError("requester: must be UTF-8 text");
    }
    ++characters;
    const bool control = code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) ||
                         code_point == 0x2028 || code_point == 0x2029;
    if (control || IsUnicodeFormatCharacter(code_point)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "requester: U+%04X is a %s character, which is not shown but changes how the text "
          "reads; send the requester as plain text",
          static_cast<uint32_t>(code_point), control ? "control" : "format"));
    }
    if (code_point != ' ') visible = true;
  }
  if (!visible) return absl::InvalidArgumentError("requester: is required");
  if (characters > kMaxRequesterCharacters) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requester: must be at most ", kMaxRequesterCharacters, " characters, not ", characters));
  }
  return absl::OkStatus();
}

}  // namespace mecai
