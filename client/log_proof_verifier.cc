#include "client/log_proof_verifier.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/transparency/cosigned_checkpoint.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "openssl/evp.h"

namespace mecai {
namespace {

// Proof nodes a tree of at most 2^64 leaves needs, at most.
constexpr int kMaxInclusionProofNodes = 64;

// The endorsed log key, after the VA key's signature over the endorsement verified.
absl::StatusOr<v1::LogKeyEndorsement> VerifyEndorsement(const v1::SignedLogKeyEndorsement& signed_,
                                                        const VerifiedVaPath& path) {
  if (path.va_key == nullptr || !VerifyObject(path.va_key, SignedObject::kLogKeyEndorsement,
                                              signed_.signature(), signed_.tbs())
                                     .ok()) {
    return absl::PermissionDeniedError(
        "the VD's log key endorsement does not verify under the VA certificate");
  }
  v1::LogKeyEndorsement endorsement;
  RETURN_IF_ERROR(ParseSignedBytes(signed_.tbs(), "the log key endorsement", &endorsement));
  return endorsement;
}

// The text of `note`, after its signature by the endorsed key under the name `origin` verified,
// and the cosignatures the client requires.
absl::StatusOr<std::string> VerifyNote(const std::string& note, const std::string& origin,
                                       const v1::LogKeyEndorsement& endorsement,
                                       const VerifiedVaPath& path) {
  EvpPkeyPtr log_key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(endorsement.log_public_key().data()),
      endorsement.log_public_key().size()));
  if (log_key == nullptr) {
    return absl::PermissionDeniedError("the endorsed log key is not an Ed25519 key");
  }
  absl::StatusOr<NoteVerifierKey> key = Ed25519VerifierKey(origin, log_key.get());
  if (!key.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's log origin \"", origin, "\": ", key.status().message()));
  }
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(note, {*key});
  if (!opened.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the VD's checkpoint is not signed by the endorsed log key: ", opened.status().message()));
  }
  if (path.min_cosignatures > 0) {
    absl::StatusOr<CosignedCheckpoint> cosigned =
        VerifyCosignedCheckpoint(note, *key, path.witnesses, path.min_cosignatures);
    if (!cosigned.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("the VD's checkpoint is not cosigned by enough other VAs' witnesses: ",
                       cosigned.status().message()));
    }
  }
  return std::move(opened->text);
}

// The tree head the VD's checkpoint note states, after the endorsement and the note verified, or
// after they verified before under this VA path: the cache key covers the endorsement's bytes and
// signature, the origin and the whole note, so one lookup answers for all of them.
absl::StatusOr<TlogCheckpoint> VerifiedCheckpoint(const v1::LogProof& proof,
                                                  const v1::VouchingStatement& statement,
                                                  const VerifiedVaPath& path,
                                                  v1::LogKeyEndorsement* endorsement) {
  const v1::SignedLogKeyEndorsement& signed_ = proof.log_key_endorsement();
  // Parsed before it is verified only to name the origin; a hit below means these very bytes
  // verified and parsed strictly before.
  if (!endorsement->ParseFromString(signed_.tbs())) {
    return absl::PermissionDeniedError("the VD's log key endorsement does not parse");
  }
  std::string origin =
      absl::StrCat(endorsement->log_origin_prefix(), "/", statement.log_shard_id());
  const std::string digest = VerifiedVaCache::SignatureDigest(
      proof.checkpoint_note(), signed_.signature().algorithm(),
      absl::StrCat(origin, "\n", signed_.tbs(), "\n", signed_.signature().value()));
  std::string text;
  if (path.cache->HasVerifiedSignature(path.chain_sha256, path.ca_sha256, digest)) {
    text = proof.checkpoint_note().substr(0, proof.checkpoint_note().find("\n\n") + 1);
  } else {
    ASSIGN_OR_RETURN(*endorsement, VerifyEndorsement(signed_, path));
    ASSIGN_OR_RETURN(text, VerifyNote(proof.checkpoint_note(), origin, *endorsement, path));
    path.cache->RememberVerifiedSignature(path.chain_sha256, path.ca_sha256, digest);
  }
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(text);
  if (!checkpoint.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's checkpoint note: ", checkpoint.status().message()));
  }
  if (checkpoint->origin != origin) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the VD's checkpoint is of the log \"", checkpoint->origin, "\", not \"", origin, "\""));
  }
  return checkpoint;
}

}  // namespace

absl::Status VerifyLogProof(const v1::VouchingData& vd, const v1::VouchingStatement& statement,
                            const VerifiedVaPath& path) {
  if (vd.has_signature()) {
    return absl::InvalidArgumentError("the VD carries both a signature and a log proof");
  }
  const v1::LogProof& proof = vd.log_proof();
  if (proof.record_sha256().size() != kMerkleHashBytes ||
      proof.inclusion_proof_size() > kMaxInclusionProofNodes) {
    return absl::InvalidArgumentError("the VD's log proof is malformed");
  }
  v1::LogKeyEndorsement endorsement;
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint,
                   VerifiedCheckpoint(proof, statement, path, &endorsement));
  if (endorsement.va_id() != statement.va_id()) {
    return absl::PermissionDeniedError(absl::StrCat("the log key is endorsed for VA '",
                                                    endorsement.va_id(), "', not '",
                                                    statement.va_id(), "'"));
  }
  const std::string leaf = LeafHash(LogEntryBytes(vd.statement(), proof.record_sha256()));
  absl::Status included = VerifyInclusion(
      leaf, statement.log_index(), checkpoint.tree_size,
      std::vector<std::string>(proof.inclusion_proof().begin(), proof.inclusion_proof().end()),
      checkpoint.root_hash);
  if (!included.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's statement is not proven at log index ", statement.log_index(),
                     " of a tree of ", checkpoint.tree_size, " entries: ", included.message()));
  }
  return absl::OkStatus();
}

}  // namespace mecai
