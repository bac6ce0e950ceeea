#include "common/crypto/pem.h"

#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/filtered_library_context.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

BioPtr MemoryBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type.
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

absl::StatusOr<std::vector<X509Ptr>> ParsePemCertificates(absl::string_view pem) {
  ClearOpenSslErrors();
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certificates;
  while (true) {
    X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (certificate == nullptr) break;
    certificates.emplace_back(certificate);
  }
  ClearOpenSslErrors();  // The loop ends on a "no start line" error.
  if (certificates.empty()) {
    return absl::InvalidArgumentError("no PEM CERTIFICATE block found");
  }
  return certificates;
}

absl::StatusOr<std::vector<X509Ptr>> LoadPemCertificates(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto certificates = ParsePemCertificates(pem);
  if (!certificates.ok()) return Annotate(certificates.status(), path);
  return certificates;
}

absl::StatusOr<X509Ptr> ParseDerCertificate(absl::string_view der) {
  ClearOpenSslErrors();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  // Parsed into an X509 of the certificate context, whose key decoding skips the decoders no
  // certificate needs (common/crypto/filtered_library_context.h); the default context's when it
  // cannot be made. d2i_X509 frees the X509 it was given when it fails.
  absl::StatusOr<OSSL_LIB_CTX*> context = CertificateLibraryContext();
  X509* into = context.ok() ? X509_new_ex(*context, nullptr) : nullptr;
  X509Ptr certificate(d2i_X509(into != nullptr ? &into : nullptr, &cursor,
                               static_cast<long>(der.size())));  // NOLINT
  if (certificate == nullptr) {
    return OpenSslError("malformed DER certificate", absl::StatusCode::kInvalidArgument);
  }
  if (cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("trailing bytes after DER certificate");
  }
  return certificate;
}

std::string CertificateToDer(X509* certificate) {
  unsigned char* out = nullptr;
  int length = i2d_X509(certificate, &out);
  if (length <= 0) return "";
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(length));
  OPENSSL_free(out);
  return der;
}

std::string CertificateToPem(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), certificate);
  return DrainBio(bio.get());
}

absl::StatusOr<std::vector<std::string>> LoadPemCertificatesAsDer(const std::string& path) {
  ASSIGN_OR_RETURN(auto certificates, LoadPemCertificates(path));
  std::vector<std::string> ders;
  for (const auto& certificate : certificates) ders.push_back(CertificateToDer(certificate.get()));
  return ders;
}

absl::StatusOr<EvpPkeyPtr> ParsePemPrivateKey(absl::string_view pem) {
  ClearOpenSslErrors();
  BioPtr bio = MemoryBio(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return OpenSslError("no valid PEM private key", absl::StatusCode::kInvalidArgument);
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> LoadPemPrivateKey(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = ParsePemPrivateKey(pem);
  if (!key.ok()) return Annotate(key.status(), path);
  return key;
}

std::string PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return DrainBio(bio.get());
}

absl::StatusOr<EvpPkeyPtr> ParsePemPublicKey(absl::string_view pem) {
  ClearOpenSslErrors();
  {
    BioPtr bio = MemoryBio(pem);
    EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (key != nullptr) return key;
  }
  ClearOpenSslErrors();
  auto certificates = ParsePemCertificates(pem);
  if (!certificates.ok()) {
    return absl::InvalidArgumentError("neither a PEM PUBLIC KEY nor a PEM CERTIFICATE");
  }
  EvpPkeyPtr key(X509_get_pubkey(certificates->front().get()));  // get_pubkey: gives a reference.
  if (key == nullptr) return OpenSslError("certificate has no usable public key");
  return key;
}

absl::StatusOr<EvpPkeyPtr> LoadPemPublicKey(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = ParsePemPublicKey(pem);
  if (!key.ok()) return Annotate(key.status(), path);
  return key;
}

std::string PublicKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  return DrainBio(bio.get());
}

std::string PublicKeyToDer(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int length = i2d_PUBKEY(key, &out);
  if (length <= 0) return "";
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(length));
  OPENSSL_free(out);
  return der;
}

}  // namespace mecai
