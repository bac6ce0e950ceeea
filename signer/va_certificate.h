// The start-up check of the VA certificate (MECAI proposal: "A VA certificate is an intermediate
// certificate that was issued by the CA. The VA certificate shall use the 'designated OCSP
// responder' key usage"). A signer whose certificate fails it must not start.
#ifndef MECAI_SIGNER_VA_CERTIFICATE_H_
#define MECAI_SIGNER_VA_CERTIFICATE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// OK when the first certificate of `va_chain` carries id-kp-OCSPSigning (RFC 6960 §4.2.2.2), holds
// `hsm_public_key` (the key in the token), and, with the rest of `va_chain` as intermediates,
// builds to one of `ca_certificates` and is valid at `now` (RFC 5280 §6). FAILED_PRECONDITION
// naming the failed requirement otherwise.
absl::Status CheckVaCertificate(const std::vector<X509Ptr>& va_chain, EVP_PKEY* hsm_public_key,
                                const std::vector<X509Ptr>& ca_certificates, absl::Time now);

}  // namespace mecai

#endif  // MECAI_SIGNER_VA_CERTIFICATE_H_
