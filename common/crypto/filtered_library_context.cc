#include "common/crypto/filtered_library_context.h"

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

constexpr char kSubjectPublicKeyInfo[] = "structure=SubjectPublicKeyInfo";

// The operations a filtered provider offers fewer of than the default provider.
constexpr int kFilteredOperations[] = {OSSL_OP_DECODER, OSSL_OP_KEYMGMT, OSSL_OP_CIPHER,
                                       OSSL_OP_DIGEST};

// The default provider of the default library context, whose algorithms every filtered provider
// offers. Loaded once, before the first filtered provider; never unloaded.
OSSL_PROVIDER* DefaultProvider() {
  static OSSL_PROVIDER* const provider = OSSL_PROVIDER_load(nullptr, "default");
  return provider;
}

// What one filtered provider keeps of each filtered operation, terminated as OSSL_ALGORITHM arrays
// are. Filled once, before its provider is loaded, and never changed after.
struct Kept {
  bool made = false;
  std::vector<OSSL_ALGORITHM> decoders;
  std::vector<OSSL_ALGORITHM> key_managers;
  std::vector<OSSL_ALGORITHM> ciphers;
  std::vector<OSSL_ALGORITHM> digests;

  std::vector<OSSL_ALGORITHM>* For(int operation_id) {
    switch (operation_id) {
      case OSSL_OP_DECODER:
        return &decoders;
      case OSSL_OP_KEYMGMT:
        return &key_managers;
      case OSSL_OP_CIPHER:
        return &ciphers;
      case OSSL_OP_DIGEST:
        return &digests;
      default:
        return nullptr;
    }
  }
};

// A provider's functions receive the default provider's provider context (the implementations
// need it), not one of their own: each filtered context's functions are therefore instances of
// these templates, one per FilteredContext, each reading its own Kept.
template <int kWhich>
Kept& KeptOf() {
  static Kept* kept = new Kept();
  return *kept;
}

template <int kWhich>
const OSSL_ALGORITHM* QueryOperation(void* /*provider_context*/, int operation_id, int* no_cache) {
  if (std::vector<OSSL_ALGORITHM>* kept = KeptOf<kWhich>().For(operation_id)) {
    *no_cache = 0;
    return kept->data();
  }
  return OSSL_PROVIDER_query_operation(DefaultProvider(), operation_id, no_cache);
}

template <int kWhich>
void UnqueryOperation(void* /*provider_context*/, int operation_id,
                      const OSSL_ALGORITHM* algorithms) {
  if (KeptOf<kWhich>().For(operation_id) != nullptr) return;
  OSSL_PROVIDER_unquery_operation(DefaultProvider(), operation_id, algorithms);
}

// libssl learns the TLS groups (RFC 8446 §4.2.7) of a library context from "TLS-GROUP".
int GetCapabilities(void* /*provider_context*/, const char* capability, OSSL_CALLBACK* callback,
                    void* argument) {
  return OSSL_PROVIDER_get_capabilities(DefaultProvider(), capability, callback, argument);
}

int GetParams(void* /*provider_context*/, OSSL_PARAM params[]) {
  return OSSL_PROVIDER_get_params(DefaultProvider(), params);
}

const OSSL_PARAM* GettableParams(void* /*provider_context*/) {
  return OSSL_PROVIDER_gettable_params(DefaultProvider());
}

// The provider context belongs to the default provider, which outlives this one.
void Teardown(void* /*provider_context*/) {}

template <int kWhich>
const OSSL_DISPATCH* Dispatch() {
  static const OSSL_DISPATCH dispatch[] = {
      {OSSL_FUNC_PROVIDER_QUERY_OPERATION,
       reinterpret_cast<void (*)(void)>(QueryOperation<kWhich>)},
      {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION,
       reinterpret_cast<void (*)(void)>(UnqueryOperation<kWhich>)},
      {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, reinterpret_cast<void (*)(void)>(GetCapabilities)},
      {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<void (*)(void)>(GetParams)},
      {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<void (*)(void)>(GettableParams)},
      {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<void (*)(void)>(Teardown)},
      {0, nullptr},
  };
  return dispatch;
}

// The implementations are the default provider's, so they run with its provider context.
template <int kWhich>
int InitProvider(const OSSL_CORE_HANDLE* /*handle*/, const OSSL_DISPATCH* /*in*/,
                 const OSSL_DISPATCH** out, void** provider_context) {
  *out = Dispatch<kWhich>();
  *provider_context = OSSL_PROVIDER_get0_provider_ctx(DefaultProvider());
  return 1;
}

template <int kWhich>
absl::StatusOr<OSSL_LIB_CTX*> Make(const char* provider_name, AlgorithmFilter keep) {
  Kept& kept = KeptOf<kWhich>();
  if (kept.made) {
    return absl::FailedPreconditionError(
        absl::StrCat("the filtered library context ", kWhich, " was made before"));
  }
  kept.made = true;
  ClearOpenSslErrors();
  if (DefaultProvider() == nullptr) return OpenSslError("loading OpenSSL's default provider");
  for (int operation_id : kFilteredOperations) {
    int no_cache = 0;
    const OSSL_ALGORITHM* algorithms =
        OSSL_PROVIDER_query_operation(DefaultProvider(), operation_id, &no_cache);
    std::vector<OSSL_ALGORITHM>& list = *kept.For(operation_id);
    for (const OSSL_ALGORITHM* algorithm = algorithms;
         algorithm != nullptr && algorithm->algorithm_names != nullptr; ++algorithm) {
      if (keep(operation_id, *algorithm)) list.push_back(*algorithm);
    }
    list.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
  }
  OSSL_LIB_CTX* context = OSSL_LIB_CTX_new();
  if (context == nullptr) return OpenSslError("OSSL_LIB_CTX_new");
  // Loading a provider first also keeps OpenSSL from loading its default one into the context.
  if (OSSL_PROVIDER_add_builtin(context, provider_name, InitProvider<kWhich>) != 1 ||
      OSSL_PROVIDER_load(context, provider_name) == nullptr) {
    absl::Status failed = OpenSslError(absl::StrCat("loading the provider ", provider_name));
    OSSL_LIB_CTX_free(context);
    return failed;
  }
  return context;
}

bool KeepForCertificates(int operation_id, const OSSL_ALGORITHM& algorithm) {
  return operation_id != OSSL_OP_DECODER || IsSubjectPublicKeyInfoDecoder(algorithm);
}

}  // namespace

absl::StatusOr<OSSL_LIB_CTX*> MakeFilteredLibraryContext(FilteredContext which,
                                                         const char* provider_name,
                                                         AlgorithmFilter keep) {
  switch (which) {
    case FilteredContext::kProbe:
      return Make<static_cast<int>(FilteredContext::kProbe)>(provider_name, keep);
    case FilteredContext::kCertificates:
      return Make<static_cast<int>(FilteredContext::kCertificates)>(provider_name, keep);
  }
  return absl::InvalidArgumentError("no such filtered library context");
}

bool IsSubjectPublicKeyInfoDecoder(const OSSL_ALGORITHM& algorithm) {
  return algorithm.property_definition != nullptr &&
         std::strstr(algorithm.property_definition, kSubjectPublicKeyInfo) != nullptr;
}

absl::StatusOr<OSSL_LIB_CTX*> CertificateLibraryContext() {
  static const absl::StatusOr<OSSL_LIB_CTX*>* context =
      new absl::StatusOr<OSSL_LIB_CTX*>(MakeFilteredLibraryContext(
          FilteredContext::kCertificates, "mecai-certificates", KeepForCertificates));
  return *context;
}

}  // namespace mecai
