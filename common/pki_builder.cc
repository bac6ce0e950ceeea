#include "common/pki_builder.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/openssl_error.h"
#include "common/status.h"

namespace mecai {
namespace {

absl::Status AddExtension(X509* certificate, X509V3_CTX* context, int nid,
                          const std::string& value) {
  X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, context, nid, value.c_str()));
  if (extension == nullptr || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> GenerateEcKey(int bits) {
  ClearOpenSslErrors();
  EvpPkeyPtr key(EVP_EC_gen(bits == 384 ? "P-384" : "P-256"));
  if (key == nullptr) return OpenSslError("EC key generation");
  return key;
}

absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits) {
  ClearOpenSslErrors();
  EvpPkeyPtr key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (key == nullptr) return OpenSslError("RSA key generation");
  return key;
}

absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer, EVP_PKEY* issuer_key) {
  ClearOpenSslErrors();
  X509Ptr certificate(X509_new());
  X509_set_version(certificate.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("RAND_bytes");
  serial[0] &= 0x7f;  // Positive (RFC 5280 §4.1.2.2).
  BignumPtr serial_number(BN_bin2bn(serial, sizeof(serial), nullptr));
  BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(certificate.get()));
  ASN1_TIME_set(X509_getm_notBefore(certificate.get()), absl::ToTimeT(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(certificate.get()), absl::ToTimeT(spec.not_after));
  X509_NAME* name = X509_get_subject_name(certificate.get());  // Borrowed.
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(certificate.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  if (X509_set_pubkey(certificate.get(), subject_key) != 1) return OpenSslError("X509_set_pubkey");

  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer != nullptr ? issuer : certificate.get(), certificate.get(),
                 nullptr, nullptr, 0);
  if (spec.is_certificate_authority) {
    std::string constraints = "critical,CA:TRUE";
    if (spec.path_length >= 0) absl::StrAppend(&constraints, ",pathlen:", spec.path_length);
    RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_basic_constraints, constraints));
    RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_key_usage,
                                 "critical,keyCertSign,cRLSign,digitalSignature"));
  } else {
    RETURN_IF_ERROR(
        AddExtension(certificate.get(), &context, NID_basic_constraints, "critical,CA:FALSE"));
    std::string usage = "critical,digitalSignature";
    if (EVP_PKEY_is_a(subject_key, "RSA")) usage += ",keyEncipherment";
    RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_key_usage, usage));
  }
  RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) {
    RETURN_IF_ERROR(
        AddExtension(certificate.get(), &context, NID_authority_key_identifier, "keyid:always"));
  }
  if (!spec.extended_key_usages.empty()) {
    RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_ext_key_usage,
                                 absl::StrJoin(spec.extended_key_usages, ",")));
  }
  if (!spec.dns_names.empty()) {
    std::vector<std::string> names;
    for (const std::string& dns : spec.dns_names) names.push_back("DNS:" + dns);
    RETURN_IF_ERROR(
        AddExtension(certificate.get(), &context, NID_subject_alt_name, absl::StrJoin(names, ",")));
  }
  if (!spec.crl_url.empty()) {
    RETURN_IF_ERROR(AddExtension(certificate.get(), &context, NID_crl_distribution_points,
                                 "URI:" + spec.crl_url));
  }
  if (!spec.ocsp_url.empty()) {
    RETURN_IF_ERROR(
        AddExtension(certificate.get(), &context, NID_info_access, "OCSP;URI:" + spec.ocsp_url));
  }
  const EVP_MD* digest = EVP_PKEY_is_a(issuer_key, "EC") && EVP_PKEY_get_bits(issuer_key) > 256
                             ? EVP_sha384()
                             : EVP_sha256();
  if (X509_sign(certificate.get(), issuer_key, digest) <= 0) return OpenSslError("X509_sign");
  return certificate;
}

}  // namespace mecai
