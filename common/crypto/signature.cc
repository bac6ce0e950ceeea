#include "common/crypto/signature.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/ed25519_verify.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

std::string CurveName(EVP_PKEY* key) {
  char name[64] = {0};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                     &length) != 1) {
    return "";
  }
  return std::string(name, length);
}

const EVP_MD* DigestFor(v1::SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case v1::ECDSA_P256_SHA256:
    case v1::RSA_PKCS1_SHA256:
    case v1::RSA_PSS_SHA256:
      return EVP_sha256();
    case v1::ECDSA_P384_SHA384:
      return EVP_sha384();
    default:
      return nullptr;
  }
}

absl::Status ConfigurePadding(EVP_PKEY_CTX* context, v1::SignatureAlgorithm algorithm) {
  if (algorithm == v1::RSA_PKCS1_SHA256) {
    if (EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) != 1) {
      return OpenSslError("cannot set PKCS#1 v1.5 padding");
    }
  } else if (algorithm == v1::RSA_PSS_SHA256) {
    if (EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(context, 32) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(context, EVP_sha256()) != 1) {
      return OpenSslError("cannot set PSS padding");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::SignatureAlgorithm> AlgorithmForKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string curve = CurveName(key);
    if (curve == "prime256v1" || curve == "P-256") return v1::ECDSA_P256_SHA256;
    if (curve == "secp384r1" || curve == "P-384") return v1::ECDSA_P384_SHA384;
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported EC curve '", curve, "' (P-256 and P-384 are supported)"));
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return v1::ED25519;
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      return absl::InvalidArgumentError("RSA keys shorter than 2048 bits are not accepted");
    }
    return v1::RSA_PKCS1_SHA256;
  }
  return absl::InvalidArgumentError(
      "unsupported key type (ECDSA P-256/P-384 and RSA are supported)");
}

absl::Status CheckAlgorithmMatchesKey(EVP_PKEY* key, v1::SignatureAlgorithm algorithm) {
  ASSIGN_OR_RETURN(v1::SignatureAlgorithm natural, AlgorithmForKey(key));
  if (natural == algorithm) return absl::OkStatus();
  if (natural == v1::RSA_PKCS1_SHA256 && algorithm == v1::RSA_PSS_SHA256) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("signature algorithm ", v1::SignatureAlgorithm_Name(algorithm),
                   " does not fit the key (expected ", v1::SignatureAlgorithm_Name(natural), ")"));
}

absl::StatusOr<std::unique_ptr<InMemorySigningKey>> InMemorySigningKey::Create(EvpPkeyPtr key) {
  ASSIGN_OR_RETURN(v1::SignatureAlgorithm algorithm, AlgorithmForKey(key.get()));
  std::unique_ptr<Ed25519SecretKey> ed25519;
  if (algorithm == v1::ED25519) {
    ASSIGN_OR_RETURN(ed25519, Ed25519SecretKey::FromEvpKey(key.get()));
  }
  return std::unique_ptr<InMemorySigningKey>(
      new InMemorySigningKey(std::move(key), algorithm, std::move(ed25519)));
}

absl::StatusOr<v1::Signature> InMemorySigningKey::Sign(absl::string_view data) {
  if (ed25519_ == nullptr) return SignBytes(key_.get(), algorithm_, data);
  v1::Signature signature;
  signature.set_algorithm(v1::ED25519);
  signature.set_value(ed25519_->Sign(data));
  return signature;
}

absl::StatusOr<v1::Signature> SignBytes(EVP_PKEY* key, v1::SignatureAlgorithm algorithm,
                                        absl::string_view data) {
  RETURN_IF_ERROR(CheckAlgorithmMatchesKey(key, algorithm));
  ClearOpenSslErrors();
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // Borrowed: owned by `context`.
  if (EVP_DigestSignInit(context.get(), &key_context, DigestFor(algorithm), nullptr, key) != 1) {
    return OpenSslError("EVP_DigestSignInit");
  }
  RETURN_IF_ERROR(ConfigurePadding(key_context, algorithm));
  size_t length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(context.get(), nullptr, &length, bytes, data.size()) != 1) {
    return OpenSslError("EVP_DigestSign (size)");
  }
  std::string value(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(&value[0]), &length, bytes,
                     data.size()) != 1) {
    return OpenSslError("EVP_DigestSign");
  }
  value.resize(length);
  v1::Signature signature;
  signature.set_algorithm(algorithm);
  signature.set_value(std::move(value));
  return signature;
}

absl::Status VerifySignature(EVP_PKEY* key, const v1::Signature& signature,
                             absl::string_view data) {
  RETURN_IF_ERROR(CheckAlgorithmMatchesKey(key, signature.algorithm()));
  if (signature.algorithm() == v1::ED25519) {
    // libsodium, not OpenSSL: half the CPU, and at least as strict (ed25519_verify.h). A signature
    // of the wrong length fails with the reason every other signature that fails has.
    absl::Status verified = VerifyEd25519(key, signature.value(), data);
    if (absl::IsInvalidArgument(verified)) {
      return absl::InvalidArgumentError("signature does not verify");
    }
    return verified;
  }
  ClearOpenSslErrors();
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // Borrowed: owned by `context`.
  if (EVP_DigestVerifyInit(context.get(), &key_context, DigestFor(signature.algorithm()), nullptr,
                           key) != 1) {
    return OpenSslError("EVP_DigestVerifyInit");
  }
  RETURN_IF_ERROR(ConfigurePadding(key_context, signature.algorithm()));
  int result = EVP_DigestVerify(
      context.get(), reinterpret_cast<const unsigned char*>(signature.value().data()),
      signature.value().size(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ClearOpenSslErrors();
  if (result != 1) return absl::InvalidArgumentError("signature does not verify");
  return absl::OkStatus();
}

absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return absl::InvalidArgumentError("raw ECDSA signature has an impossible length");
  }
  const size_t half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + half, static_cast<int>(half), nullptr);
  EcdsaSigPtr signature(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || signature == nullptr ||
      ECDSA_SIG_set0(signature.get(), r, s) != 1) {  // set0 takes ownership of r and s.
    BN_free(r);
    BN_free(s);
    return OpenSslError("cannot build ECDSA_SIG");
  }
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(signature.get(), &der);
  if (length <= 0) return OpenSslError("cannot encode ECDSA_SIG");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

}  // namespace mecai
