// Public keys built from a PKCS#11 public key object's attributes: EC P-256, Ed25519 and RSA.
#ifndef MECAI_COMMON_PKCS11_PKCS11_PUBLIC_KEY_H_
#define MECAI_COMMON_PKCS11_PKCS11_PUBLIC_KEY_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// CKA_EC_PARAMS of P-256: the DER of the namedCurve OID 1.2.840.10045.3.1.7 (prime256v1), the
// ECParameters choice of PKCS#11 v2.40 Current Mechanisms §2.3.3 and RFC 5480 §2.1.1.
inline constexpr absl::string_view kP256EcParams("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);

// CKA_EC_PARAMS of Ed25519 in the OID form: the DER of id-Ed25519, 1.3.101.112 (RFC 8410 §3).
// Reading a key, the printableString "edwards25519" form of PKCS#11 v3.0 is accepted too.
inline constexpr absl::string_view kEd25519EcParams("\x06\x03\x2b\x65\x70", 5);

// The smallest RSA modulus accepted for a VA key, in bits (as common/crypto/signature.h accepts).
inline constexpr size_t kMinimumRsaModulusBits = 2048;

// True for either form of Ed25519's CKA_EC_PARAMS: kEd25519EcParams or the printableString
// "edwards25519" (PKCS#11 v3.0 Current Mechanisms §2.3.10).
bool IsEd25519EcParams(absl::string_view ec_params);

// The curve of `ec_params` for messages: "P-256", "P-384", "P-521", "secp256k1", "Ed25519" or
// "Ed448", else "CKA_EC_PARAMS <hex>".
std::string EcParamsCurveName(absl::string_view ec_params);

// An EC P-256 public key from a key object's CKA_EC_PARAMS and CKA_EC_POINT (v2.40 Current
// Mechanisms §2.3.3: the point is the DER of an OCTET STRING holding the X9.62 point; a bare point,
// which some modules return, is accepted too). FAILED_PRECONDITION for another curve or a point
// that is not on P-256.
absl::StatusOr<EvpPkeyPtr> P256PublicKeyFromAttributes(absl::string_view ec_params,
                                                       absl::string_view ec_point);

// An Ed25519 public key from a key object's CKA_EC_PARAMS and CKA_EC_POINT (PKCS#11 v3.0 Current
// Mechanisms §2.3.10: the point is the DER of an OCTET STRING holding the 32-byte key of RFC 8032
// §5.1.5; the bare 32 bytes are accepted too). FAILED_PRECONDITION for another curve or length.
absl::StatusOr<EvpPkeyPtr> Ed25519PublicKeyFromAttributes(absl::string_view ec_params,
                                                          absl::string_view ec_point);

// An RSA public key from a key object's CKA_MODULUS and CKA_PUBLIC_EXPONENT (v2.40 Current
// Mechanisms §2.1.2: big-endian unsigned integers). FAILED_PRECONDITION for a modulus shorter than
// kMinimumRsaModulusBits or an even or absent exponent; the message gives the size.
absl::StatusOr<EvpPkeyPtr> RsaPublicKeyFromAttributes(absl::string_view modulus,
                                                      absl::string_view public_exponent);

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_PUBLIC_KEY_H_
