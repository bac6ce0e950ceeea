#include "client/log_proof_verifier.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "openssl/evp.h"

namespace mecai {
namespace {

// Proof nodes a tree of at most 2^64 leaves needs, at most.
constexpr int kMaxInclusionProofNodes = 64;

// The endorsed log key, after the VA key's signature over the endorsement verified (or was
// verified before under this VA path).
absl::StatusOr<v1::LogKeyEndorsement> VerifyEndorsement(const v1::SignedLogKeyEndorsement& signed_,
                                                        const VerifiedVaPath& path) {
  const std::string digest = VerifiedVaCache::SignatureDigest(
      signed_.tbs(), signed_.signature().algorithm(), signed_.signature().value());
  if (!path.cache->HasVerifiedSignature(path.chain_sha256, path.ca_sha256, digest)) {
    if (path.va_key == nullptr || !VerifyObject(path.va_key, SignedObject::kLogKeyEndorsement,
                                                signed_.signature(), signed_.tbs())
                                       .ok()) {
      return absl::PermissionDeniedError(
          "the VD's log key endorsement does not verify under the VA certificate");
    }
    path.cache->RememberVerifiedSignature(path.chain_sha256, path.ca_sha256, digest);
  }
  v1::LogKeyEndorsement endorsement;
  RETURN_IF_ERROR(ParseSignedBytes(signed_.tbs(), "the log key endorsement", &endorsement));
  return endorsement;
}

// The tree head of `note`, after its signature by `key` verified (or was verified before).
absl::StatusOr<TlogCheckpoint> VerifyCheckpointNote(const std::string& note,
                                                    const NoteVerifierKey& key,
                                                    const VerifiedVaPath& path) {
  // The note's bytes and the key (name, ID and public key) decide the outcome.
  const std::string digest = VerifiedVaCache::SignatureDigest(
      note, 0, absl::StrCat(FormatVerifierKey(key), "\n", key.public_key));
  std::string text;
  if (path.cache->HasVerifiedSignature(path.chain_sha256, path.ca_sha256, digest)) {
    text = note.substr(0, note.find("\n\n") + 1);
  } else {
    absl::StatusOr<OpenedNote> opened = OpenSignedNote(note, {key});
    if (!opened.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("the VD's checkpoint is not signed by the endorsed log key: ",
                       opened.status().message()));
    }
    text = std::move(opened->text);
    path.cache->RememberVerifiedSignature(path.chain_sha256, path.ca_sha256, digest);
  }
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(text);
  if (!checkpoint.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's checkpoint note: ", checkpoint.status().message()));
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
  ASSIGN_OR_RETURN(v1::LogKeyEndorsement endorsement,
                   VerifyEndorsement(proof.log_key_endorsement(), path));
  if (endorsement.va_id() != statement.va_id()) {
    return absl::PermissionDeniedError(absl::StrCat("the log key is endorsed for VA '",
                                                    endorsement.va_id(), "', not '",
                                                    statement.va_id(), "'"));
  }
  EvpPkeyPtr log_key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(endorsement.log_public_key().data()),
      endorsement.log_public_key().size()));
  if (log_key == nullptr) {
    return absl::PermissionDeniedError("the endorsed log key is not an Ed25519 key");
  }
  const std::string origin =
      absl::StrCat(endorsement.log_origin_prefix(), "/", statement.log_shard_id());
  absl::StatusOr<NoteVerifierKey> key = Ed25519VerifierKey(origin, log_key.get());
  if (!key.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's log origin \"", origin, "\": ", key.status().message()));
  }
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint,
                   VerifyCheckpointNote(proof.checkpoint_note(), *key, path));
  if (checkpoint.origin != origin) {
    return absl::PermissionDeniedError(absl::StrCat("the VD's checkpoint is of the log \"",
                                                    checkpoint.origin, "\", not \"", origin, "\""));
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
