#include "probe_agent/probe_library_context.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <strings.h>

#include <cstring>
#include <vector>

#include "common/crypto/filtered_library_context.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr char kProviderName[] = "mecai-probe";

// Key managers libssl 3.0 never uses: its TLS 1.2 PRF and TLS 1.3 HKDF are EVP_KDFs, and these
// key types appear in no certificate or key exchange. Every other key manager is kept.
constexpr const char* kUnusedKeyManagers[] = {"TLS1-PRF", "HKDF",     "SCRYPT",
                                              "SIPHASH",  "POLY1305", "CMAC"};
// The ciphers of libssl 3.0's cipher suites (its SSL_CIPHER table, and the stitched CBC-HMAC
// ciphers it prefers when it has them) that the default provider implements; the provider's
// other ciphers (ECB, CFB, OFB, CTR, XTS, OCB, SIV, key wrap, SM4, ...) are no TLS cipher suite's.
constexpr const char* kTlsCiphers[] = {"AES-128-CBC",
                                       "AES-256-CBC",
                                       "AES-128-GCM",
                                       "AES-256-GCM",
                                       "AES-128-CCM",
                                       "AES-256-CCM",
                                       "ChaCha20-Poly1305",
                                       "CAMELLIA-128-CBC",
                                       "CAMELLIA-256-CBC",
                                       "ARIA-128-GCM",
                                       "ARIA-256-GCM",
                                       "DES-EDE3-CBC",
                                       "AES-128-CBC-HMAC-SHA1",
                                       "AES-256-CBC-HMAC-SHA1",
                                       "AES-128-CBC-HMAC-SHA256",
                                       "AES-256-CBC-HMAC-SHA256"};
// The digests of TLS 1.2 and 1.3 cipher suites, PRFs and signature algorithms (RFC 5246 §7.4.1.4.1,
// RFC 8446 §4.2.3); the provider's others (SHA-3, SHAKE, BLAKE2, SM3, RIPEMD-160, ...) are none's.
constexpr const char* kTlsDigests[] = {"MD5",      "SHA1",     "SHA2-224", "SHA2-256",
                                       "SHA2-384", "SHA2-512", "MD5-SHA1"};

// Whether the first of `names` (an OSSL_ALGORITHM's "NAME:ALIAS:...") is one of `list`.
template <size_t N>
bool FirstNameIn(const char* names, const char* const (&list)[N]) {
  const char* end = std::strchr(names, ':');
  const size_t length = end != nullptr ? static_cast<size_t>(end - names) : std::strlen(names);
  for (const char* name : list) {
    if (std::strlen(name) == length && strncasecmp(names, name, length) == 0) return true;
  }
  return false;
}

bool Keep(int operation_id, const OSSL_ALGORITHM& algorithm) {
  switch (operation_id) {
    case OSSL_OP_DECODER:
      return IsSubjectPublicKeyInfoDecoder(algorithm);
    case OSSL_OP_KEYMGMT:
      return !FirstNameIn(algorithm.algorithm_names, kUnusedKeyManagers);
    case OSSL_OP_CIPHER:
      return FirstNameIn(algorithm.algorithm_names, kTlsCiphers);
    case OSSL_OP_DIGEST:
      return FirstNameIn(algorithm.algorithm_names, kTlsDigests);
    default:
      return true;
  }
}

}  // namespace

absl::StatusOr<OSSL_LIB_CTX*> ProbeLibraryContext() {
  static const absl::StatusOr<OSSL_LIB_CTX*>* context = new absl::StatusOr<OSSL_LIB_CTX*>(
      MakeFilteredLibraryContext(FilteredContext::kProbe, kProviderName, Keep));
  return *context;
}

}  // namespace probe_agent
}  // namespace mecai
