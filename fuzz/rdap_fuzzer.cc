// Fuzzes the RDAP parser of the approval service (approval/rdap.h), which reads JSON a registry's
// RDAP server sends (RFC 9083): the input is the response body, looked up for "example.test".
// Every number it returns must be "+" and 6..15 digits, and there are at most the limit.
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
  absl::StatusOr<std::vector<std::string>> numbers =
      mecai::ParseRdapPhoneNumbers(json, "example.test", kMaxNumbers);
  if (!numbers.ok()) return 0;
  if (numbers->size() > kMaxNumbers) std::abort();
  for (const std::string& number : *numbers) {
    if (!IsE164(number) || mecai::NormalizePhoneNumber(number) != number) {
      std::fprintf(stderr, "RDAP parser returned a malformed number '%s'\n", number.c_str());
      std::abort();
    }
  }
  return 0;
}
