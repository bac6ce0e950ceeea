// Approval codes (ARCHITECTURE.md §7, MECAI phone-approval proposal: "a random approval code (also
// chosen by the CA)"): drawn from a CSPRNG, spoken on the phone, stored only as SHA-256(salt ||
// code) with a per-request salt, and compared in constant time. Never log a code.
#ifndef MECAI_APPROVAL_APPROVAL_CODE_H_
#define MECAI_APPROVAL_APPROVAL_CODE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Randomness behind an interface (CONTRIBUTING.md "Inject nondeterminism"). Thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // `length` random bytes; INTERNAL when the generator fails.
  virtual absl::StatusOr<std::string> Bytes(size_t length) = 0;
};

// OpenSSL's CSPRNG (RAND_bytes). Thread-safe.
class OpenSslRandomSource : public RandomSource {
 public:
  absl::StatusOr<std::string> Bytes(size_t length) override;
};

// Bytes of salt stored with each code hash.
inline constexpr size_t kApprovalCodeSaltBytes = 16;

// `digits` uniformly random decimal digits (rejection sampling: no modulo bias).
absl::StatusOr<std::string> GenerateApprovalCode(RandomSource& random, size_t digits);

// SHA-256(salt || code), 32 bytes.
std::string HashApprovalCode(absl::string_view salt, absl::string_view code);

// The code as a person entered it, checked before any comparison: spaces, tabs and dashes are
// dropped, and what remains must be exactly `digits` decimal digits. INVALID_ARGUMENT with a
// sentence for that person otherwise (such input uses no attempt: it cannot be the code).
absl::StatusOr<std::string> NormalizeApprovalCode(absl::string_view input, size_t digits);

// The code as it is spoken: digits separated by spaces, "4 8 1 5".
std::string SpokenDigits(absl::string_view code);

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_CODE_H_
