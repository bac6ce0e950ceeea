#include "common/pki/pki_builder.h"

#include <openssl/rand.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"

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

absl::StatusOr<EvpPkeyPtr> GenerateEd25519Key() {
  ClearOpenSslErrors();
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (key == nullptr) return OpenSslError("Ed25519 key generation");
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

namespace {

using Asn1EnumeratedPtr = OpenSslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using X509RevokedPtr = OpenSslPtr<X509_REVOKED, X509_REVOKED_free>;
using IssuingDistPointPtr = OpenSslPtr<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free>;
using GeneralNamePtr = OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;

absl::StatusOr<Asn1TimePtr> ToAsn1Time(absl::Time time) {
  Asn1TimePtr result(ASN1_TIME_set(nullptr, absl::ToTimeT(time)));
  if (result == nullptr) return OpenSslError("ASN1_TIME_set");
  return result;
}

}  // namespace

absl::StatusOr<std::string> IssueCrlDer(const CrlSpec& spec, X509* issuer, EVP_PKEY* signing_key) {
  ClearOpenSslErrors();
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr) return OpenSslError("X509_CRL_new");
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1) {
    return OpenSslError("X509_CRL_set_issuer_name");
  }
  ASSIGN_OR_RETURN(Asn1TimePtr this_update, ToAsn1Time(spec.this_update));
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1) {
    return OpenSslError("X509_CRL_set1_lastUpdate");
  }
  if (spec.next_update != absl::InfinitePast()) {
    ASSIGN_OR_RETURN(Asn1TimePtr next_update, ToAsn1Time(spec.next_update));
    if (X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
      return OpenSslError("X509_CRL_set1_nextUpdate");
    }
  }
  for (const RevokedEntry& entry : spec.revoked) {
    X509RevokedPtr revoked(X509_REVOKED_new());
    ASSIGN_OR_RETURN(Asn1TimePtr revoked_at, ToAsn1Time(entry.revoked_at));
    if (revoked == nullptr) return OpenSslError("X509_REVOKED_new");
    if (entry.certificate != nullptr) {
      if (X509_REVOKED_set_serialNumber(revoked.get(), X509_get_serialNumber(entry.certificate)) !=
          1) {
        return OpenSslError("X509_REVOKED_set_serialNumber");
      }
    } else {
      BignumPtr number(BN_bin2bn(reinterpret_cast<const unsigned char*>(entry.serial.data()),
                                 static_cast<int>(entry.serial.size()), nullptr));
      Asn1IntegerPtr serial(number == nullptr ? nullptr
                                              : BN_to_ASN1_INTEGER(number.get(), nullptr));
      if (serial == nullptr || X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1) {
        return OpenSslError("X509_REVOKED_set_serialNumber");
      }
    }
    if (X509_REVOKED_set_revocationDate(revoked.get(), revoked_at.get()) != 1) {
      return OpenSslError("X509_REVOKED_set_revocationDate");
    }
    if (entry.reason >= 0) {
      Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
      if (reason == nullptr || ASN1_ENUMERATED_set(reason.get(), entry.reason) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0, 0) != 1) {
        return OpenSslError("CRL reason code");
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError("X509_CRL_add0_revoked");
    }
    revoked.release();  // Owned by the CRL now.
  }
  if (!spec.issuing_distribution_point_url.empty()) {
    IssuingDistPointPtr idp(ISSUING_DIST_POINT_new());
    if (idp == nullptr) return OpenSslError("ISSUING_DIST_POINT_new");
    idp->distpoint = DIST_POINT_NAME_new();
    if (idp->distpoint == nullptr) return OpenSslError("DIST_POINT_NAME_new");
    idp->distpoint->type = 0;  // fullName
    idp->distpoint->name.fullname = GENERAL_NAMES_new();
    GeneralNamePtr name(GENERAL_NAME_new());
    ASN1_IA5STRING* uri = ASN1_IA5STRING_new();
    if (idp->distpoint->name.fullname == nullptr || name == nullptr || uri == nullptr ||
        ASN1_STRING_set(uri, spec.issuing_distribution_point_url.data(),
                        static_cast<int>(spec.issuing_distribution_point_url.size())) != 1) {
      ASN1_IA5STRING_free(uri);
      return OpenSslError("IssuingDistributionPoint name");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_URI, uri);
    if (sk_GENERAL_NAME_push(idp->distpoint->name.fullname, name.get()) <= 0) {
      return OpenSslError("sk_GENERAL_NAME_push");
    }
    name.release();
    idp->onlyCA = spec.only_ca_certificates ? 0xff : 0;
    if (X509_CRL_add1_ext_i2d(crl.get(), NID_issuing_distribution_point, idp.get(), 1, 0) != 1) {
      return OpenSslError("X509_CRL_add1_ext_i2d(issuingDistributionPoint)");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1) return OpenSslError("X509_CRL_sort");
  if (X509_CRL_sign(crl.get(), signing_key, EVP_sha256()) <= 0) {
    return OpenSslError("X509_CRL_sign");
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  if (length <= 0) return OpenSslError("i2d_X509_CRL");
  std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return result;
}

absl::StatusOr<std::string> IssueCsrDer(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                                        const std::string& common_name) {
  ClearOpenSslErrors();
  X509ReqPtr csr(X509_REQ_new());
  if (csr == nullptr || X509_REQ_set_version(csr.get(), 0) != 1) {
    return OpenSslError("X509_REQ_new");
  }
  X509_NAME* subject = X509_REQ_get_subject_name(csr.get());  // Borrowed.
  if (!common_name.empty() &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslError("X509_NAME_add_entry_by_txt(CN)");
  }
  if (X509_REQ_set_pubkey(csr.get(), key) != 1) return OpenSslError("X509_REQ_set_pubkey");
  if (!dns_names.empty()) {
    std::vector<std::string> entries;
    for (const std::string& name : dns_names) {
      // A DNS name never holds ':'; an entry with a type prefix (IP:, email:) is used as given.
      entries.push_back(absl::StrContains(name, ':') ? name : absl::StrCat("DNS:", name));
    }
    const std::string value = absl::StrJoin(entries, ",");
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    if (san == nullptr) return OpenSslError("subjectAltName " + value);
    STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
    const bool added = extensions != nullptr && sk_X509_EXTENSION_push(extensions, san) > 0 &&
                       X509_REQ_add_extensions(csr.get(), extensions) == 1;
    if (extensions == nullptr || sk_X509_EXTENSION_num(extensions) == 0) X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    if (!added) return OpenSslError("X509_REQ_add_extensions");
  }
  if (X509_REQ_sign(csr.get(), key, EVP_sha256()) <= 0) return OpenSslError("X509_REQ_sign");
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(csr.get(), &der);
  if (length <= 0) return OpenSslError("i2d_X509_REQ");
  std::string bytes(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  return bytes;
}

}  // namespace mecai
