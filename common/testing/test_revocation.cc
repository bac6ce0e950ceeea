#include "common/testing/test_revocation.h"

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"

namespace mecai {
namespace test_revocation {
namespace {

using OcspCertIdPtr = OpenSslPtr<OCSP_CERTID, OCSP_CERTID_free>;

std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  return absl::StrCat(++counter);
}

absl::StatusOr<Asn1TimePtr> ToGeneralizedTime(absl::Time time) {
  Asn1TimePtr result(ASN1_GENERALIZEDTIME_set(nullptr, absl::ToTimeT(time)));
  if (result == nullptr) return OpenSslError("ASN1_GENERALIZEDTIME_set");
  return result;
}

absl::StatusOr<IssuedCertificate> Issue(const CertificateSpec& spec, X509* issuer,
                                        EVP_PKEY* issuer_key) {
  IssuedCertificate issued;
  ASSIGN_OR_RETURN(issued.key, GenerateEcKey());
  ASSIGN_OR_RETURN(issued.certificate,
                   IssueCertificate(spec, issued.key.get(), issuer,
                                    issuer_key != nullptr ? issuer_key : issued.key.get()));
  issued.der = CertificateToDer(issued.certificate.get());
  return issued;
}

}  // namespace

absl::StatusOr<RevocationPki> BuildRevocationPki(absl::Time now) {
  RevocationPki pki;
  pki.now = now;
  CertificateSpec spec;
  spec.common_name = absl::StrCat("MECAI Revocation Test CA ", UniqueSuffix());
  spec.is_certificate_authority = true;
  spec.not_before = now - absl::Hours(24 * 30);
  spec.not_after = now + absl::Hours(24 * 3650);
  ASSIGN_OR_RETURN(pki.ca, Issue(spec, nullptr, nullptr));
  return pki;
}

absl::StatusOr<IssuedCertificate> RevocationPki::IssueLeaf(const std::string& hostname,
                                                           const std::string& crl_url,
                                                           const std::string& ocsp_url) const {
  CertificateSpec spec;
  spec.common_name = absl::StrCat(hostname, " ", UniqueSuffix());
  spec.dns_names = {hostname};
  spec.extended_key_usages = {"serverAuth"};
  spec.not_before = now - absl::Hours(24);
  spec.not_after = now + absl::Hours(24 * 90);
  spec.crl_url = crl_url;
  spec.ocsp_url = ocsp_url;
  return Issue(spec, ca.certificate.get(), ca.key.get());
}

absl::StatusOr<IssuedCertificate> RevocationPki::IssueResponder(
    bool with_ocsp_signing_usage) const {
  CertificateSpec spec;
  spec.common_name = absl::StrCat("MECAI Test OCSP Responder ", UniqueSuffix());
  if (with_ocsp_signing_usage) spec.extended_key_usages = {"OCSPSigning"};
  spec.not_before = now - absl::Hours(24);
  spec.not_after = now + absl::Hours(24 * 90);
  return Issue(spec, ca.certificate.get(), ca.key.get());
}

absl::StatusOr<std::string> MakeCrlDer(const CrlSpec& spec, X509* issuer, EVP_PKEY* signing_key) {
  return IssueCrlDer(spec, issuer, signing_key);
}

absl::StatusOr<std::string> CrlDerToPem(const std::string& der) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  if (crl == nullptr) return OpenSslError("d2i_X509_CRL");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError("PEM_write_bio_X509_CRL");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  return std::string(data, static_cast<size_t>(length));
}

absl::StatusOr<std::string> MakeOcspResponseDer(const OcspResponseSpec& spec) {
  ClearOpenSslErrors();
  if (spec.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    OcspResponsePtr response(OCSP_response_create(spec.response_status, nullptr));
    if (response == nullptr) return OpenSslError("OCSP_response_create");
    unsigned char* der = nullptr;
    const int length = i2d_OCSP_RESPONSE(response.get(), &der);
    if (length <= 0) return OpenSslError("i2d_OCSP_RESPONSE");
    std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
    OPENSSL_free(der);
    return result;
  }
  OcspBasicResponsePtr basic(OCSP_BASICRESP_new());
  if (basic == nullptr) return OpenSslError("OCSP_BASICRESP_new");
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), spec.certificate, spec.issuer));
  if (id == nullptr) return OpenSslError("OCSP_cert_to_id");
  ASSIGN_OR_RETURN(Asn1TimePtr this_update, ToGeneralizedTime(spec.this_update));
  Asn1TimePtr next_update;
  if (spec.next_update != absl::InfinitePast()) {
    ASSIGN_OR_RETURN(next_update, ToGeneralizedTime(spec.next_update));
  }
  ASSIGN_OR_RETURN(Asn1TimePtr revoked_at, ToGeneralizedTime(spec.revoked_at));
  int status = V_OCSP_CERTSTATUS_GOOD;
  if (spec.status == OcspCertStatus::kRevoked) status = V_OCSP_CERTSTATUS_REVOKED;
  if (spec.status == OcspCertStatus::kUnknown) status = V_OCSP_CERTSTATUS_UNKNOWN;
  if (OCSP_basic_add1_status(basic.get(), id.get(), status, spec.reason,
                             status == V_OCSP_CERTSTATUS_REVOKED ? revoked_at.get() : nullptr,
                             this_update.get(), next_update.get()) == nullptr) {
    return OpenSslError("OCSP_basic_add1_status");
  }
  if (!spec.nonce.empty() &&
      OCSP_basic_add1_nonce(basic.get(),
                            reinterpret_cast<unsigned char*>(const_cast<char*>(spec.nonce.data())),
                            static_cast<int>(spec.nonce.size())) != 1) {
    return OpenSslError("OCSP_basic_add1_nonce");
  }
  const unsigned long flags =  // NOLINT(runtime/int): OpenSSL's type.
      spec.include_signer_certificate ? 0 : OCSP_NOCERTS;
  if (OCSP_basic_sign(basic.get(), spec.signer, spec.signer_key, EVP_sha256(), nullptr, flags) !=
      1) {
    return OpenSslError("OCSP_basic_sign");
  }
  OcspResponsePtr response(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (response == nullptr) return OpenSslError("OCSP_response_create");
  unsigned char* der = nullptr;
  const int length = i2d_OCSP_RESPONSE(response.get(), &der);
  if (length <= 0) return OpenSslError("i2d_OCSP_RESPONSE");
  std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return result;
}

}  // namespace test_revocation
}  // namespace mecai
