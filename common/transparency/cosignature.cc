#include "common/transparency/cosignature.h"

#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {
namespace {

std::string BigEndian(uint64_t value, size_t bytes) {
  std::string out(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) {
    out[i] = static_cast<char>(value >> (8 * (bytes - 1 - i)));
  }
  return out;
}

absl::Status CheckCheckpointText(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("a cosigned note text is not empty and ends in a newline");
  }
  return CheckNoteCharacters(text);
}

}  // namespace

absl::StatusOr<NoteVerifierKey> CosignerKey(absl::string_view name, EVP_PKEY* public_key) {
  RETURN_IF_ERROR(CheckNoteKeyName(name));
  NoteVerifierKey key;
  key.name = std::string(name);
  ASSIGN_OR_RETURN(key.public_key, Ed25519RawPublicKey(public_key));
  key.key_id = NoteKeyId(key.name, kCosignatureV1SignatureType, key.public_key);
  return key;
}

std::string FormatCosignerVkey(const NoteVerifierKey& key) {
  return FormatVerifierKeyOfType(key, kCosignatureV1SignatureType);
}

absl::StatusOr<NoteVerifierKey> ParseCosignerVkey(absl::string_view vkey) {
  return ParseVerifierKeyOfType(vkey, kCosignatureV1SignatureType);
}

std::string CosignatureV1Message(absl::string_view checkpoint_text, uint64_t timestamp) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", checkpoint_text);
}

absl::StatusOr<NoteSignature> SignCosignatureV1(absl::string_view checkpoint_text,
                                                const NoteVerifierKey& key, uint64_t timestamp,
                                                SigningKey& signer) {
  RETURN_IF_ERROR(CheckCheckpointText(checkpoint_text));
  RETURN_IF_ERROR(CheckNoteKeyName(key.name));
  if (timestamp > kMaxCosignatureTimestamp) {
    return absl::InvalidArgumentError("a cosignature's timestamp is at most 2^63 - 1");
  }
  const std::string message = CosignatureV1Message(checkpoint_text, timestamp);
  ASSIGN_OR_RETURN(v1::Signature signature, signer.Sign(message));
  if (signature.algorithm() != v1::ED25519) {
    return absl::InternalError("the cosigning key does not make Ed25519 signatures");
  }
  NoteSignature cosignature{key.name, key.key_id,
                            absl::StrCat(BigEndian(timestamp, 8), signature.value())};
  if (!VerifyCosignatureV1(checkpoint_text, key, cosignature).ok()) {
    return absl::InternalError(
        absl::StrCat("the cosigning key's signature does not verify with ", key.name, "'s key"));
  }
  return cosignature;
}

absl::StatusOr<uint64_t> CosignatureV1Timestamp(absl::string_view signature) {
  if (signature.size() != kCosignatureV1Bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a cosignature/v1 signature has ", kCosignatureV1Bytes,
                     " bytes after its key ID, not ", signature.size()));
  }
  uint64_t timestamp = 0;
  for (size_t i = 0; i < 8; ++i) {
    timestamp = (timestamp << 8) | static_cast<unsigned char>(signature[i]);
  }
  if (timestamp > kMaxCosignatureTimestamp) {
    return absl::InvalidArgumentError("a cosignature's timestamp is at most 2^63 - 1");
  }
  return timestamp;
}

absl::StatusOr<uint64_t> VerifyCosignatureV1(absl::string_view checkpoint_text,
                                             const NoteVerifierKey& key,
                                             const NoteSignature& signature) {
  if (signature.key_name != key.name || signature.key_id != key.key_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the cosignature is not by ", key.name, "'s key"));
  }
  ASSIGN_OR_RETURN(const uint64_t timestamp, CosignatureV1Timestamp(signature.signature));
  absl::Status verified = VerifyNoteSignature(CosignatureV1Message(checkpoint_text, timestamp), key,
                                              absl::string_view(signature.signature).substr(8));
  if (!verified.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the cosignature of ", key.name, " does not verify"));
  }
  return timestamp;
}

std::string FormatNoteSignatureLine(const NoteSignature& signature) {
  return absl::StrCat(
      "\xe2\x80\x94 ", signature.key_name, " ",
      Base64Encode(absl::StrCat(BigEndian(signature.key_id, 4), signature.signature)), "\n");
}

}  // namespace mecai
