// Fuzzes the RDAP parser of the approval service (approval/rdap.h), which reads JSON a registry's
// RDAP server sends (RFC 9083): the input is the response body, looked up for "example.test".
// Every number it returns must be "+" and 6..15 digits with an extension of at most 10 digits,
// and there are at most the limit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "approval/rdap.h"

namespace {

constexpr size_t kMaxNumbers = 10;

bool IsE164(const std::string& number) {
  if (number.size() < 7 || number.size() > 16 || number[0] != '+') return false;
  for (size_t i = 1; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The RDAP client never reads more than RdapOptions::max_response_bytes (256 KiB).
  if (size > (256 << 10)) return 0;
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<mecai::RdapContacts> contacts =
      mecai::ParseRdapContacts(json, "example.test", kMaxNumbers);
  if (!contacts.ok()) return 0;
  if (contacts->contacts.size() > kMaxNumbers) std::abort();
  for (const mecai::RdapPhoneContact& contact : contacts->contacts) {
    const std::string& number = contact.number;
    if (!IsE164(number) || mecai::NormalizePhoneNumber(number) != number ||
        contact.extension.size() > 10 ||
        contact.extension.find_first_not_of("0123456789") != std::string::npos) {
      std::fprintf(stderr, "RDAP parser returned a malformed number '%s'\n", number.c_str());
      std::abort();
    }
  }
  return 0;
}
