// PEM and DER conversion of certificates and keys.
#ifndef MECAI_COMMON_CRYPTO_PEM_H_
#define MECAI_COMMON_CRYPTO_PEM_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// Every CERTIFICATE block of a PEM text, in order. INVALID_ARGUMENT if there is none or one is bad.
absl::StatusOr<std::vector<X509Ptr>> ParsePemCertificates(absl::string_view pem);
// The same, read from a file; errors name the file.
absl::StatusOr<std::vector<X509Ptr>> LoadPemCertificates(const std::string& path);

// One DER certificate; trailing bytes are an error.
absl::StatusOr<X509Ptr> ParseDerCertificate(absl::string_view der);
std::string CertificateToDer(X509* certificate);
std::string CertificateToPem(X509* certificate);
// DER of each certificate of a PEM file, in order.
absl::StatusOr<std::vector<std::string>> LoadPemCertificatesAsDer(const std::string& path);

// A private key from PEM (PKCS#8 or traditional).
absl::StatusOr<EvpPkeyPtr> ParsePemPrivateKey(absl::string_view pem);
absl::StatusOr<EvpPkeyPtr> LoadPemPrivateKey(const std::string& path);
std::string PrivateKeyToPem(EVP_PKEY* key);

// A public key from a PEM SubjectPublicKeyInfo or from the first PEM certificate.
absl::StatusOr<EvpPkeyPtr> ParsePemPublicKey(absl::string_view pem);
absl::StatusOr<EvpPkeyPtr> LoadPemPublicKey(const std::string& path);
std::string PublicKeyToPem(EVP_PKEY* key);
// DER SubjectPublicKeyInfo of a key.
std::string PublicKeyToDer(EVP_PKEY* key);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_PEM_H_
