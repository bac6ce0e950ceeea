#include "common/tls_extension/serverinfo_file.h"

#include <openssl/ssl.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mecai {
namespace {

static_assert(kMecaiServerinfoContext ==
                  (SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_CERTIFICATE),
              "the contexts of mecai_vouching (ARCHITECTURE.md §5)");

constexpr absl::string_view kBegin = "-----BEGIN ";
constexpr absl::string_view kEnd = "-----END ";
constexpr absl::string_view kDashes = "-----";
constexpr absl::string_view kLabelPrefix = "SERVERINFOV2 FOR ";
constexpr absl::string_view kMecaiLabel = "SERVERINFOV2 FOR MECAI VOUCHING DATA";

uint32_t ReadBigEndian(absl::string_view bytes) {
  uint32_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

void AppendBigEndian(std::string* out, uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// The next line of `text` without its line end; advances `text` past it.
absl::string_view NextLine(absl::string_view& text) {
  const size_t end = text.find('\n');
  absl::string_view line = text.substr(0, end);
  text.remove_prefix(end == absl::string_view::npos ? text.size() : end + 1);
  absl::ConsumeSuffix(&line, "\r");
  return line;
}

}  // namespace

absl::StatusOr<std::string> EncodeServerinfoFile(uint16_t extension_type,
                                                 absl::string_view vouching_data_list) {
  if (vouching_data_list.empty() || vouching_data_list.size() > 0xffff) {
    return absl::InvalidArgumentError(
        absl::StrCat("a serverinfo entry carries 1..65535 bytes, not ", vouching_data_list.size()));
  }
  std::string entry;
  AppendBigEndian(&entry, kMecaiServerinfoContext, 4);
  AppendBigEndian(&entry, extension_type, 2);
  AppendBigEndian(&entry, static_cast<uint32_t>(vouching_data_list.size()), 2);
  absl::StrAppend(&entry, vouching_data_list);
  const std::string base64 = absl::Base64Escape(entry);
  std::string pem = absl::StrCat(kBegin, kMecaiLabel, kDashes, "\n");
  for (size_t i = 0; i < base64.size(); i += 64) {
    absl::StrAppend(&pem, absl::string_view(base64).substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, kEnd, kMecaiLabel, kDashes, "\n");
  return pem;
}

absl::StatusOr<std::string> DecodeServerinfoFile(absl::string_view pem, uint16_t extension_type) {
  std::optional<std::string> found;
  absl::string_view rest = pem;
  int blocks = 0;
  while (true) {
    // Blank lines between blocks are allowed; any other text is not.
    absl::string_view line;
    do {
      if (rest.empty()) break;
      line = absl::StripAsciiWhitespace(NextLine(rest));
    } while (line.empty());
    if (line.empty()) break;
    absl::string_view label = line;
    if (!absl::ConsumePrefix(&label, kBegin) || !absl::ConsumeSuffix(&label, kDashes) ||
        !absl::StartsWith(label, kLabelPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("serverinfo: expected a SERVERINFOV2 PEM block, found '",
                       absl::CEscape(line.substr(0, 64)), "'"));
    }
    ++blocks;
    const std::string end_line = absl::StrCat(kEnd, label, kDashes);
    std::string base64;
    bool ended = false;
    while (!rest.empty()) {
      absl::string_view body_line = absl::StripAsciiWhitespace(NextLine(rest));
      if (body_line == end_line) {
        ended = true;
        break;
      }
      absl::StrAppend(&base64, body_line);
    }
    if (!ended) {
      return absl::InvalidArgumentError(absl::StrCat("serverinfo: block ", blocks, " has no END"));
    }
    std::string data;
    if (base64.empty() || !absl::Base64Unescape(base64, &data)) {
      return absl::InvalidArgumentError(
          absl::StrCat("serverinfo: block ", blocks, " is not base64"));
    }
    absl::string_view entries = data;
    while (!entries.empty()) {
      if (entries.size() < 8) {
        return absl::InvalidArgumentError(
            absl::StrCat("serverinfo: block ", blocks, ": truncated entry header"));
      }
      const uint32_t type = ReadBigEndian(entries.substr(4, 2));
      const size_t length = ReadBigEndian(entries.substr(6, 2));
      entries.remove_prefix(8);
      if (entries.size() < length) {
        return absl::InvalidArgumentError(
            absl::StrCat("serverinfo: block ", blocks, ": entry of extension ", type, " length ",
                         length, " exceeds the ", entries.size(), " bytes left"));
      }
      if (type == extension_type) {
        if (found.has_value()) {
          return absl::InvalidArgumentError(
              absl::StrCat("serverinfo: two entries of extension ", type));
        }
        found = std::string(entries.substr(0, length));
      }
      entries.remove_prefix(length);
    }
  }
  if (blocks == 0) return absl::InvalidArgumentError("serverinfo: no SERVERINFOV2 PEM block");
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("serverinfo: no entry of extension ", extension_type));
  }
  return *std::move(found);
}

}  // namespace mecai
