#include "signer/va_certificate.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_error.h"
#include "common/evidence/trust_lists.h"

namespace mecai {

absl::Status CheckVaCertificate(const std::vector<X509Ptr>& va_chain, EVP_PKEY* hsm_public_key,
                                const std::vector<X509Ptr>& ca_certificates, absl::Time now) {
  if (va_chain.empty()) return absl::FailedPreconditionError("the VA certificate chain is empty");
  X509* va_certificate = va_chain.front().get();
  if (!HasOcspSigningUsage(va_certificate)) {
    return absl::FailedPreconditionError(
        "the VA certificate lacks the id-kp-OCSPSigning extended key usage");
  }
  EvpPkeyPtr certificate_key(X509_get_pubkey(va_certificate));
  if (certificate_key == nullptr || EVP_PKEY_eq(hsm_public_key, certificate_key.get()) != 1) {
    return absl::FailedPreconditionError(
        "the VA certificate's public key is not the key in the PKCS#11 token");
  }
  X509StorePtr store(X509_STORE_new());
  for (const X509Ptr& ca : ca_certificates) X509_STORE_add_cert(store.get(), ca.get());
  X509StackPtr intermediates(sk_X509_new_null());
  for (size_t i = 1; i < va_chain.size(); ++i) {
    X509_up_ref(va_chain[i].get());
    sk_X509_push(intermediates.get(), va_chain[i].get());
  }
  ClearOpenSslErrors();
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), va_certificate, intermediates.get());
  X509_STORE_CTX_set_time(context.get(), 0, absl::ToTimeT(now));
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    ClearOpenSslErrors();
    return absl::FailedPreconditionError(
        absl::StrCat("the VA certificate does not chain to the configured CA certificate: ",
                     X509_verify_cert_error_string(error)));
  }
  return absl::OkStatus();
}

}  // namespace mecai
