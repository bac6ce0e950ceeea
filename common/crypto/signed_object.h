// What a signature in MECAI means: every signature covers a context string that names the kind
// and version of the signed object, then one zero byte, then the object's exact serialized bytes
// (docs/SECURITY.md "Signatures mean one thing"; the construction follows TLS 1.3's
// CertificateVerify context, RFC 8446 §4.4.3). The contexts are distinct and none contains a zero
// byte, so the set of signed messages is prefix-free: a signature made for one kind never verifies
// as another, whatever bytes follow. docs/VOUCHING_DATA.md gives the bytes for a second
// implementation.
//
// Verifiers parse signed bytes strictly (ParseSignedBytes): a field this code does not know, at any
// depth, refuses the object, so nothing can ride along inside a signature unseen.
#ifndef MECAI_COMMON_CRYPTO_SIGNED_OBJECT_H_
#define MECAI_COMMON_CRYPTO_SIGNED_OBJECT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "google/protobuf/message.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

// VouchingStatement.version of the statements signed under the contexts below. Version 1
// statements were signed without a context and are refused.
inline constexpr uint32_t kVouchingStatementVersion = 2;

// Every kind of object the system signs. Adding a kind means adding its context below.
enum class SignedObject {
  // VouchingRequestBody, by the key of the certificate it names (the single form and each
  // rollover certificate's own signature over its body).
  kVouchingRequestBody,
  // The other rollover certificate's signature over a SignedVouchingRequest (the "wrap").
  kVouchingRequestRolloverWrap,
  // ObservationBody, by a probe agent's key.
  kObservation,
  // VouchingStatement, by the VA key (the key the VA certificate certifies).
  kVouchingStatement,
  // CheckpointBody, by the VA's log key (a key separate from the VA key).
  kCheckpoint,
  // ApprovalRecordBody, by the approval service's key.
  kApprovalRecord,
  // TrustListChangeBody, by a trust-list maintainer's key.
  kTrustListChange,
  // LogKeyEndorsement, by the VA key: the log key that signs the checkpoints proving logged VDs.
  kLogKeyEndorsement,
};

// The context string of `kind`, without the terminating zero byte, e.g.
// "MECAI vouching statement v2".
absl::string_view SignatureContext(SignedObject kind);

// The bytes a signature of `kind` covers: context || 0x00 || bytes.
std::string SignedMessage(SignedObject kind, absl::string_view bytes);

// Signs SignedMessage(kind, bytes) with `key`.
absl::StatusOr<v1::Signature> SignObject(SigningKey& key, SignedObject kind,
                                         absl::string_view bytes);

// OK iff `signature` is `key`'s signature of SignedMessage(kind, bytes); INVALID_ARGUMENT
// otherwise (as VerifySignature).
absl::Status VerifyObject(EVP_PKEY* key, SignedObject kind, const v1::Signature& signature,
                          absl::string_view bytes);

// Parses `bytes` into `message` and refuses, with INVALID_ARGUMENT naming `what`, bytes that do not
// parse or that carry a field unknown to this code anywhere in the message tree (a field number it
// does not know, or a known number with another wire type). Every verifier of a signed object
// parses the signed bytes with this.
absl::Status ParseSignedBytes(absl::string_view bytes, absl::string_view what,
                              google::protobuf::Message* message);

// OK when `message` and every message inside it carry no unknown field; otherwise
// INVALID_ARGUMENT naming `what` and the first field number found.
absl::Status RefuseUnknownFields(const google::protobuf::Message& message, absl::string_view what);

// OK unless `message` or a message inside it carries, among its unknown fields, a field number its
// type knows: bytes written with another wire type than the field's (the protobuf wire format,
// https://protobuf.dev/programming-guides/encoding/), which no version of the sender writes; the
// parser keeps them aside instead of refusing them. INVALID_ARGUMENT names `what`, the message
// and the field. A number the type does not know is accepted: a newer peer's field (messages
// between services that are upgraded one after the other, not signed objects). For proto3
// messages only, as all of this repository's are: a closed enum's unknown value would also land
// under its known number.
absl::Status RefuseMistypedFields(const google::protobuf::Message& message, absl::string_view what);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_SIGNED_OBJECT_H_
