// SHA-256 (FIPS 180-4), hex, and constant-time comparison.
#ifndef MECAI_COMMON_CRYPTO_HASHING_H_
#define MECAI_COMMON_CRYPTO_HASHING_H_

#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace mecai {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(absl::string_view data);

// The SHA-256 digest of the concatenation of `parts`, without concatenating them.
std::string Sha256OfParts(std::initializer_list<absl::string_view> parts);

// Lower-case hexadecimal of `bytes`.
std::string HexEncode(absl::string_view bytes);

// First `digits` hex digits of `bytes` followed by "…" when cut, for messages people read.
std::string ShortHex(absl::string_view bytes, size_t digits = 16);

// Compares secrets in time independent of where they differ (CRYPTO_memcmp). Lengths may leak.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_HASHING_H_
