// Transaction numbers (MECAI phone-approval proposal: "a transaction number"): spoken on the
// phone, typed on the certapproval page and sent by CAs, so every input is taken in one canonical
// form — spaces and dashes dropped, letters upper case — and two inputs with the same canonical
// form name the same request (docs/APPROVAL.md "Transaction numbers").
#ifndef MECAI_APPROVAL_TRANSACTION_NUMBER_H_
#define MECAI_APPROVAL_TRANSACTION_NUMBER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "approval/approval_code.h"

namespace mecai {

// The characters of generated transaction numbers: digits and upper-case letters without the
// look-alikes 0/O and 1/I, 32 of them (5 bits each).
inline constexpr absl::string_view kTransactionNumberAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
// Characters of a generated transaction number: 12 x 5 = 60 bits.
inline constexpr size_t kGeneratedTransactionNumberLength = 12;
// Rules for a transaction number the CA chose (canonical form).
inline constexpr size_t kMinChosenTransactionNumberLength = 12;
inline constexpr size_t kMaxTransactionNumberLength = 32;
inline constexpr size_t kMinChosenTransactionNumberDistinct = 8;

// The canonical form of `input`: spaces, tabs and dashes dropped, ASCII letters upper case. Any
// other character is kept (and makes the result invalid for IsCanonicalTransactionNumber).
std::string NormalizeTransactionNumber(absl::string_view input);

// True when `canonical` is 1..kMaxTransactionNumberLength characters A-Z and 0-9: a form a
// lookup may find (requests of earlier versions had 6 or more).
bool IsCanonicalTransactionNumber(absl::string_view canonical);

// OK when `input`, a transaction number a CA chose, meets the rules of a new request: canonical
// form of 12 to 32 letters and digits with at least 8 distinct characters. INVALID_ARGUMENT
// naming the rule otherwise ("transaction_number: ...").
absl::Status ValidateChosenTransactionNumber(absl::string_view input);

// A new transaction number: kGeneratedTransactionNumberLength characters of
// kTransactionNumberAlphabet, uniformly drawn from `random` among those that meet
// ValidateChosenTransactionNumber (a CA may send it back as its own); INTERNAL when `random` fails,
// or gives 100 draws in a row with too few distinct characters.
absl::StatusOr<std::string> GenerateTransactionNumber(RandomSource& random);

// The canonical form in groups of four for people to read, "ABCD-EFGH-JKLM".
std::string GroupedTransactionNumber(absl::string_view canonical);

// How a call speaks `characters`: each character separated by a space, groups of four separated
// by a comma, "A B C D, E F G H".
std::string SpokenInGroups(absl::string_view characters);

}  // namespace mecai

#endif  // MECAI_APPROVAL_TRANSACTION_NUMBER_H_
