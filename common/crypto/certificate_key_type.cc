#include "common/crypto/certificate_key_type.h"

#include <openssl/core_names.h>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

// TLS 1.2 suites authenticated by an ECDSA or EdDSA key: ECDHE_ECDSA (RFC 8422 §2.1, §2.3).
constexpr char kEcdsaSuites[] = "aECDSA:!eNULL";
// TLS 1.2 suites authenticated by an RSA key: ECDHE_RSA (RFC 8422 §2.2), DHE_RSA and RSA key
// transport (RFC 5246 §7.4.2), the RSA-authenticated suites of the agent's default offer.
constexpr char kRsaSuites[] = "aRSA:!eNULL";

std::string CurveName(EVP_PKEY* key) {
  char name[64] = {0};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                     &length) != 1) {
    return "";
  }
  return std::string(name, length);
}

}  // namespace

absl::StatusOr<KeyTypeOffer> OfferSelecting(v1::CertificateKeyType key_type) {
  switch (key_type) {
    case v1::KEY_TYPE_EC_P256:
      // In TLS 1.3 this signature scheme is bound to P-256 (RFC 8446 §4.2.3).
      return KeyTypeOffer{"ecdsa_secp256r1_sha256", kEcdsaSuites};
    case v1::KEY_TYPE_EC_P384:
      return KeyTypeOffer{"ecdsa_secp384r1_sha384", kEcdsaSuites};
    case v1::KEY_TYPE_RSA:
      // RSASSA-PSS with an rsaEncryption key (TLS 1.3 signs only so, RFC 8446 §4.2.3) and, for
      // TLS 1.2 servers, PKCS #1 v1.5. Not rsa_pss_pss_*: those select RSASSA-PSS-only keys.
      return KeyTypeOffer{
          "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
          "rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512",
          kRsaSuites};
    case v1::KEY_TYPE_ED25519:
      return KeyTypeOffer{"ed25519", kEcdsaSuites};
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "certificate key type ", static_cast<int>(key_type),
          v1::CertificateKeyType_IsValid(key_type)
              ? absl::StrCat(" (", v1::CertificateKeyType_Name(key_type), ")")
              : std::string(),
          " is not one a probe agent can ask a server for (EC P-256, EC P-384, RSA, Ed25519)"));
  }
}

absl::Status RestrictOfferToKeyType(SSL_CTX* context, v1::CertificateKeyType key_type) {
  ASSIGN_OR_RETURN(const KeyTypeOffer offer, OfferSelecting(key_type));
  ClearOpenSslErrors();
  if (SSL_CTX_set1_sigalgs_list(context, offer.signature_algorithms.c_str()) != 1) {
    return OpenSslError(absl::StrCat("signature algorithms '", offer.signature_algorithms, "' for ",
                                     KeyTypeName(key_type)),
                        absl::StatusCode::kInvalidArgument);
  }
  if (SSL_CTX_set_cipher_list(context, offer.tls12_cipher_suites.c_str()) != 1) {
    return OpenSslError(absl::StrCat("TLS 1.2 cipher suites '", offer.tls12_cipher_suites, "' for ",
                                     KeyTypeName(key_type)),
                        absl::StatusCode::kInvalidArgument);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CertificateKeyType> CertificateKeyTypeOf(X509* certificate) {
  // X509_get0_pubkey borrows: the key belongs to the certificate.
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  ClearOpenSslErrors();
  if (key == nullptr) {
    return absl::InvalidArgumentError("the certificate's public key cannot be decoded");
  }
  v1::CertificateKeyType key_type = v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED;
  std::string described;
  if (EVP_PKEY_is_a(key, "EC")) {
    const std::string curve = CurveName(key);
    if (curve == "prime256v1" || curve == "P-256") {
      key_type = v1::KEY_TYPE_EC_P256;
    } else if (curve == "secp384r1" || curve == "P-384") {
      key_type = v1::KEY_TYPE_EC_P384;
    }
    described = absl::StrCat("an ECDSA key on ", curve.empty() ? "an unnamed curve" : curve);
  } else if (EVP_PKEY_is_a(key, "RSA-PSS") || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS) {
    // An RSA key restricted to RSASSA-PSS: TLS selects it by rsa_pss_pss_* only.
    described = "an RSASSA-PSS-only key (id-RSASSA-PSS, RFC 4055)";
  } else if (EVP_PKEY_is_a(key, "RSA")) {
    key_type = v1::KEY_TYPE_RSA;
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    key_type = v1::KEY_TYPE_ED25519;
  } else {
    const char* name = EVP_PKEY_get0_type_name(key);
    described = absl::StrCat("a key of type ", name != nullptr ? name : "unknown");
  }
  // Selectable is what the rule has an offer for: one place decides.
  if (key_type != v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED && OfferSelecting(key_type).ok()) {
    return key_type;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the certificate has ", described,
                   ", which no probe agent can ask a server for: the agents select certificates "
                   "with EC P-256, EC P-384, RSA or Ed25519 keys"));
}

std::string KeyTypeName(v1::CertificateKeyType key_type) {
  switch (key_type) {
    case v1::KEY_TYPE_EC_P256:
      return "EC P-256";
    case v1::KEY_TYPE_EC_P384:
      return "EC P-384";
    case v1::KEY_TYPE_RSA:
      return "RSA";
    case v1::KEY_TYPE_ED25519:
      return "Ed25519";
    default:
      return absl::StrCat("key type ", static_cast<int>(key_type));
  }
}

}  // namespace mecai
