#include "approval/approval_code.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"

namespace mecai {

absl::StatusOr<std::string> OpenSslRandomSource::Bytes(size_t length) {
  std::string bytes(length, '\0');
  ClearOpenSslErrors();
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(length)) != 1) {
    return OpenSslError("RAND_bytes");
  }
  return bytes;
}

absl::StatusOr<std::string> GenerateApprovalCode(RandomSource& random, size_t digits) {
  std::string code;
  while (code.size() < digits) {
    absl::StatusOr<std::string> bytes = random.Bytes(digits);
    if (!bytes.ok()) return bytes.status();
    for (unsigned char byte : *bytes) {
      // 250 = 25 * 10: bytes 250..255 would favour digits 0..5, so they are drawn again.
      if (byte >= 250 || code.size() == digits) continue;
      code.push_back(static_cast<char>('0' + byte % 10));
    }
  }
  return code;
}

std::string HashApprovalCode(absl::string_view salt, absl::string_view code) {
  std::string input(salt);
  input.append(code.data(), code.size());
  return Sha256(input);
}

absl::StatusOr<std::string> NormalizeApprovalCode(absl::string_view input, size_t digits) {
  std::string code;
  for (char c : input) {
    if (c == ' ' || c == '\t' || c == '-') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          "the approval code has only digits; enter the digits you heard");
    }
    code.push_back(c);
  }
  if (code.empty()) return absl::InvalidArgumentError("enter the approval code you heard");
  if (code.size() != digits) {
    return absl::InvalidArgumentError(
        absl::StrCat("the approval code has ", digits, " digits; you entered ", code.size()));
  }
  return code;
}

std::string SpokenDigits(absl::string_view code) {
  std::string spoken;
  for (char c : code) {
    if (!spoken.empty()) spoken.push_back(' ');
    spoken.push_back(c);
  }
  return spoken;
}

}  // namespace mecai
