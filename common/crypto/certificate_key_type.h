// The key types of the certificates a VR names, and the one rule that says what a TLS client
// offers so that a server holding certificates of several key types for one name (an RSA and an
// ECDSA certificate, say) presents the one of a given type (docs/PROTOCOL.md "Key-typed
// handshakes"). The coordinator and the signer derive the key types from the VR's certificates
// and refuse a certificate no agent can ask for; the probe agents build their ClientHellos from
// the same rule.
#ifndef MECAI_COMMON_CRYPTO_CERTIFICATE_KEY_TYPE_H_
#define MECAI_COMMON_CRYPTO_CERTIFICATE_KEY_TYPE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {

// What a ClientHello offers so that the server presents a certificate with a key of one type.
struct KeyTypeOffer {
  // The signature_algorithms extension (RFC 8446 §4.2.3; in TLS 1.2 RFC 5246 §7.4.1.4.1), in
  // OpenSSL's list syntax (SSL_CTX_set1_sigalgs_list). A TLS 1.3 server picks its certificate by
  // these; a TLS 1.2 server by these and the cipher suites.
  std::string signature_algorithms;
  // The TLS 1.2 cipher suites, in OpenSSL's cipher-list syntax (SSL_CTX_set_cipher_list): every
  // suite whose server authentication uses such a key. TLS 1.3 suites name no authentication
  // (RFC 8446 §4.1.1) and are left as they are.
  std::string tls12_cipher_suites;
};

// The key types the probe agents can ask a server for, in enum order.
inline constexpr v1::CertificateKeyType kSelectableKeyTypes[] = {
    v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_EC_P384, v1::KEY_TYPE_RSA, v1::KEY_TYPE_ED25519};

// The rule: what a ClientHello offers to be shown a certificate of `key_type`.
//   KEY_TYPE_EC_P256   ecdsa_secp256r1_sha256               ECDHE-ECDSA suites (RFC 8422 §2.1)
//   KEY_TYPE_EC_P384   ecdsa_secp384r1_sha384               ECDHE-ECDSA suites
//   KEY_TYPE_RSA       rsa_pss_rsae_sha256/384/512,         ECDHE-RSA, DHE-RSA and RSA suites
//                      rsa_pkcs1_sha256/384/512
//   KEY_TYPE_ED25519   ed25519                              ECDHE-ECDSA suites (RFC 8422 §2.3)
// No NULL-encryption suite is offered. INVALID_ARGUMENT, naming the value, for any other value
// (CERTIFICATE_KEY_TYPE_UNSPECIFIED, or a number this code does not know).
absl::StatusOr<KeyTypeOffer> OfferSelecting(v1::CertificateKeyType key_type);

// Restricts `context`'s offer to OfferSelecting(`key_type`): SSL_CTX_set1_sigalgs_list and
// SSL_CTX_set_cipher_list. INVALID_ARGUMENT as OfferSelecting, or when OpenSSL refuses a list.
absl::Status RestrictOfferToKeyType(SSL_CTX* context, v1::CertificateKeyType key_type);

// The key type of `certificate`'s public key, when OfferSelecting has an offer for it.
// INVALID_ARGUMENT for any other key, naming it ("an ECDSA key on secp521r1", "an RSASSA-PSS key").
// RSA keys of any size are KEY_TYPE_RSA: how large a key must be is the signature rule's to say
// (common/crypto/signature.h).
absl::StatusOr<v1::CertificateKeyType> CertificateKeyTypeOf(X509* certificate);

// "EC P-256", "EC P-384", "RSA", "Ed25519"; "key type <n>" for any other value. For sentences.
std::string KeyTypeName(v1::CertificateKeyType key_type);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_CERTIFICATE_KEY_TYPE_H_
