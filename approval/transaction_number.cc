#include "approval/transaction_number.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mecai {

std::string NormalizeTransactionNumber(absl::string_view input) {
  std::string canonical;
  for (char c : input) {
    if (c == ' ' || c == '\t' || c == '-') continue;
    canonical.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return canonical;
}

bool IsCanonicalTransactionNumber(absl::string_view canonical) {
  if (canonical.empty() || canonical.size() > kMaxTransactionNumberLength) return false;
  for (char c : canonical) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        !absl::ascii_isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateChosenTransactionNumber(absl::string_view input) {
  const std::string canonical = NormalizeTransactionNumber(input);
  if (!IsCanonicalTransactionNumber(canonical) ||
      canonical.size() < kMinChosenTransactionNumberLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transaction_number: must be ", kMinChosenTransactionNumberLength, " to ",
        kMaxTransactionNumberLength,
        " letters and digits (spaces and dashes are ignored), or empty for one the service "
        "draws"));
  }
  const std::set<char> distinct(canonical.begin(), canonical.end());
  if (distinct.size() < kMinChosenTransactionNumberDistinct) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction_number: must have at least ", kMinChosenTransactionNumberDistinct,
                     " distinct characters; draw it at random (docs/APPROVAL.md), or send none "
                     "and the service draws one"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GenerateTransactionNumber(RandomSource& random) {
  static_assert(kTransactionNumberAlphabet.size() == 32, "5 bits per character");
  // A number the service draws is one a CA may send back as its own (sending a request again,
  // after a lost answer, with the same number): it meets the rules of a chosen number, drawn
  // again when it does not (12 characters of 32 have fewer than 8 distinct ones about once in 100
  // draws).
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string number;
    while (number.size() < kGeneratedTransactionNumberLength) {
      absl::StatusOr<std::string> bytes = random.Bytes(kGeneratedTransactionNumberLength);
      if (!bytes.ok()) return bytes.status();
      for (unsigned char byte : *bytes) {
        if (number.size() == kGeneratedTransactionNumberLength) break;
        // 256 is a multiple of 32: every byte maps to one character without bias.
        number.push_back(kTransactionNumberAlphabet[byte % 32]);
      }
    }
    if (ValidateChosenTransactionNumber(number).ok()) return number;
  }
  return absl::InternalError(
      "the random source gave 100 transaction numbers with too few distinct characters");
}

std::string GroupedTransactionNumber(absl::string_view canonical) {
  std::string grouped;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (i > 0 && i % 4 == 0) grouped.push_back('-');
    grouped.push_back(canonical[i]);
  }
  return grouped;
}

std::string SpokenInGroups(absl::string_view characters) {
  std::string spoken;
  for (size_t i = 0; i < characters.size(); ++i) {
    if (i > 0) spoken += i % 4 == 0 ? ", " : " ";
    spoken.push_back(characters[i]);
  }
  return spoken;
}

}  // namespace mecai
