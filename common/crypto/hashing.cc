#include "common/crypto/hashing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <memory>

namespace mecai {
namespace {

// OpenSSL 3's one-shot SHA256() fetches the algorithm from the provider on every call, which
// costs more than hashing a short input (a Merkle proof hashes dozens of 65-byte inputs). The
// algorithm is fetched once, and each thread reuses one digest context.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return algorithm;
}

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

std::string Sha256OfParts(std::initializer_list<absl::string_view> parts) {
  thread_local std::unique_ptr<EVP_MD_CTX, DigestContextDeleter> context(EVP_MD_CTX_new());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  bool ok = Sha256Algorithm() != nullptr && context != nullptr &&
            EVP_DigestInit_ex2(context.get(), Sha256Algorithm(), nullptr) == 1;
  for (absl::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(context.get(), part.data(), part.size()) == 1;
  }
  if (!ok || EVP_DigestFinal_ex(context.get(), digest, &length) != 1 || length != sizeof(digest)) {
    // Only an OpenSSL without SHA-256 gets here; no answer is safer than a wrong one.
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::string Sha256(absl::string_view data) { return Sha256OfParts({data}); }

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string ShortHex(absl::string_view bytes, size_t digits) {
  std::string hex = HexEncode(bytes);
  if (hex.size() <= digits) return hex;
  return hex.substr(0, digits) + "…";
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mecai
