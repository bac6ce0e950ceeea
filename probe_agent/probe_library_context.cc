#include "probe_agent/probe_library_context.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

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

// Whether the first of `names` (an OSSL_ALGORITHM's "NAME:ALIAS:...") is one of kUnusedKeyManagers.
bool UnusedKeyManager(const char* names) {
  const char* end = std::strchr(names, ':');
  const size_t length = end != nullptr ? static_cast<size_t>(end - names) : std::strlen(names);
  for (const char* unused : kUnusedKeyManagers) {
    if (std::strlen(unused) == length && std::strncmp(names, unused, length) == 0) return true;
  }
  return false;
}

// The default provider of the default library context, whose algorithms the probe provider offers.
// Set once, before the probe provider is loaded; never unloaded.
OSSL_PROVIDER* default_provider = nullptr;

// The default provider's decoders of a DER SubjectPublicKeyInfo, terminated as OSSL_ALGORITHM
// arrays are. Filled once, before the probe provider is loaded.
std::vector<OSSL_ALGORITHM>& SubjectPublicKeyInfoDecoders() {
  static std::vector<OSSL_ALGORITHM>* decoders = new std::vector<OSSL_ALGORITHM>();
  return *decoders;
}

// The default provider's key managers but kUnusedKeyManagers, terminated. Filled once, before the
// probe provider is loaded.
std::vector<OSSL_ALGORITHM>& KeyManagers() {
  static std::vector<OSSL_ALGORITHM>* key_managers = new std::vector<OSSL_ALGORITHM>();
  return *key_managers;
}

const OSSL_ALGORITHM* QueryOperation(void* /*provider_context*/, int operation_id, int* no_cache) {
  if (operation_id == OSSL_OP_DECODER) {
    *no_cache = 0;
    return SubjectPublicKeyInfoDecoders().data();
  }
  if (operation_id == OSSL_OP_KEYMGMT) {
    *no_cache = 0;
    return KeyManagers().data();
  }
  return OSSL_PROVIDER_query_operation(default_provider, operation_id, no_cache);
}

void UnqueryOperation(void* /*provider_context*/, int operation_id,
                      const OSSL_ALGORITHM* algorithms) {
  if (operation_id == OSSL_OP_DECODER || operation_id == OSSL_OP_KEYMGMT) return;
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
  int no_cache = 0;
  const OSSL_ALGORITHM* decoders =
      OSSL_PROVIDER_query_operation(default_provider, OSSL_OP_DECODER, &no_cache);
  std::vector<OSSL_ALGORITHM>& kept = SubjectPublicKeyInfoDecoders();
  for (const OSSL_ALGORITHM* decoder = decoders;
       decoder != nullptr && decoder->algorithm_names != nullptr; ++decoder) {
    if (decoder->property_definition != nullptr &&
        std::strstr(decoder->property_definition, kSubjectPublicKeyInfo) != nullptr) {
      kept.push_back(*decoder);
    }
  }
  kept.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
  const OSSL_ALGORITHM* key_managers =
      OSSL_PROVIDER_query_operation(default_provider, OSSL_OP_KEYMGMT, &no_cache);
  std::vector<OSSL_ALGORITHM>& kept_key_managers = KeyManagers();
  for (const OSSL_ALGORITHM* key_manager = key_managers;
       key_manager != nullptr && key_manager->algorithm_names != nullptr; ++key_manager) {
    if (!UnusedKeyManager(key_manager->algorithm_names)) kept_key_managers.push_back(*key_manager);
  }
  kept_key_managers.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
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
