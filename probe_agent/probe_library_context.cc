#include "probe_agent/probe_library_context.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <strings.h>

#include <cstring>
#include <vector>

#include "common/crypto/openssl_error.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr char kProviderName[] = "mecai-probe";
constexpr char kSubjectPublicKeyInfo[] = "structure=SubjectPublicKeyInfo";

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

// The default provider of the default library context, whose algorithms the probe provider offers.
// Set once, before the probe provider is loaded; never unloaded.
OSSL_PROVIDER* default_provider = nullptr;

// The operations the probe provider offers fewer of than the default provider, each with what it
// keeps, terminated as OSSL_ALGORITHM arrays are. Filled once, before the probe provider is loaded.
struct Filtered {
  std::vector<OSSL_ALGORITHM> decoders;      // Of a DER SubjectPublicKeyInfo.
  std::vector<OSSL_ALGORITHM> key_managers;  // All but kUnusedKeyManagers.
  std::vector<OSSL_ALGORITHM> ciphers;       // kTlsCiphers.
  std::vector<OSSL_ALGORITHM> digests;       // kTlsDigests.
};
Filtered& Kept() {
  static Filtered* kept = new Filtered();
  return *kept;
}

std::vector<OSSL_ALGORITHM>* KeptFor(int operation_id) {
  switch (operation_id) {
    case OSSL_OP_DECODER:
      return &Kept().decoders;
    case OSSL_OP_KEYMGMT:
      return &Kept().key_managers;
    case OSSL_OP_CIPHER:
      return &Kept().ciphers;
    case OSSL_OP_DIGEST:
      return &Kept().digests;
    default:
      return nullptr;
  }
}

bool Keep(int operation_id, const OSSL_ALGORITHM& algorithm) {
  switch (operation_id) {
    case OSSL_OP_DECODER:
      return algorithm.property_definition != nullptr &&
             std::strstr(algorithm.property_definition, kSubjectPublicKeyInfo) != nullptr;
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

const OSSL_ALGORITHM* QueryOperation(void* /*provider_context*/, int operation_id, int* no_cache) {
  if (std::vector<OSSL_ALGORITHM>* kept = KeptFor(operation_id)) {
    *no_cache = 0;
    return kept->data();
  }
  return OSSL_PROVIDER_query_operation(default_provider, operation_id, no_cache);
}

void UnqueryOperation(void* /*provider_context*/, int operation_id,
                      const OSSL_ALGORITHM* algorithms) {
  if (KeptFor(operation_id) != nullptr) return;
  OSSL_PROVIDER_unquery_operation(default_provider, operation_id, algorithms);
}

// libssl learns the TLS groups (RFC 8446 §4.2.7) of a library context from "TLS-GROUP".
int GetCapabilities(void* /*provider_context*/, const char* capability, OSSL_CALLBACK* callback,
                    void* argument) {
  return OSSL_PROVIDER_get_capabilities(default_provider, capability, callback, argument);
}

int GetParams(void* /*provider_context*/, OSSL_PARAM params[]) {
  return OSSL_PROVIDER_get_params(default_provider, params);
}

const OSSL_PARAM* GettableParams(void* /*provider_context*/) {
  return OSSL_PROVIDER_gettable_params(default_provider);
}

// The provider context belongs to the default provider, which outlives this one.
void Teardown(void* /*provider_context*/) {}

const OSSL_DISPATCH kDispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<void (*)(void)>(QueryOperation)},
    {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, reinterpret_cast<void (*)(void)>(UnqueryOperation)},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, reinterpret_cast<void (*)(void)>(GetCapabilities)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<void (*)(void)>(GetParams)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<void (*)(void)>(GettableParams)},
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<void (*)(void)>(Teardown)},
    {0, nullptr},
};

// The implementations are the default provider's, so they run with its provider context.
int InitProvider(const OSSL_CORE_HANDLE* /*handle*/, const OSSL_DISPATCH* /*in*/,
                 const OSSL_DISPATCH** out, void** provider_context) {
  *out = kDispatch;
  *provider_context = OSSL_PROVIDER_get0_provider_ctx(default_provider);
  return 1;
}

absl::StatusOr<OSSL_LIB_CTX*> MakeProbeLibraryContext() {
  ClearOpenSslErrors();
  default_provider = OSSL_PROVIDER_load(nullptr, "default");
  if (default_provider == nullptr) return OpenSslError("loading OpenSSL's default provider");
  for (int operation_id : {OSSL_OP_DECODER, OSSL_OP_KEYMGMT, OSSL_OP_CIPHER, OSSL_OP_DIGEST}) {
    int no_cache = 0;
    const OSSL_ALGORITHM* algorithms =
        OSSL_PROVIDER_query_operation(default_provider, operation_id, &no_cache);
    std::vector<OSSL_ALGORITHM>& kept = *KeptFor(operation_id);
    for (const OSSL_ALGORITHM* algorithm = algorithms;
         algorithm != nullptr && algorithm->algorithm_names != nullptr; ++algorithm) {
      if (Keep(operation_id, *algorithm)) kept.push_back(*algorithm);
    }
    kept.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
  }
  OSSL_LIB_CTX* context = OSSL_LIB_CTX_new();
  if (context == nullptr) return OpenSslError("OSSL_LIB_CTX_new");
  // Loading a provider first also keeps OpenSSL from loading its default one into the context.
  if (OSSL_PROVIDER_add_builtin(context, kProviderName, InitProvider) != 1 ||
      OSSL_PROVIDER_load(context, kProviderName) == nullptr) {
    absl::Status failed = OpenSslError("loading the probe's provider");
    OSSL_LIB_CTX_free(context);
    return failed;
  }
  return context;
}

}  // namespace

absl::StatusOr<OSSL_LIB_CTX*> ProbeLibraryContext() {
  static const absl::StatusOr<OSSL_LIB_CTX*>* context =
      new absl::StatusOr<OSSL_LIB_CTX*>(MakeProbeLibraryContext());
  return *context;
}

}  // namespace probe_agent
}  // namespace mecai
