#include "client/log_proof_verifier.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
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

// Appends `part` preceded by its length (8 bytes, big endian).
void AppendLengthPrefixed(absl::string_view part, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((static_cast<uint64_t>(part.size()) >> shift) & 0xff));
  }
  out->append(part.data(), part.size());
}

// The key under which the verified-VA cache remembers a checkpoint note with its endorsement, for
// a VD of log shard `log_shard_id` and a client requiring `min_cosignatures` of `witnesses` and
// accepting `published_logs` (all when empty):
// SHA-256 over every input of the verification, each length-prefixed, so that no two inputs share
// a key.
std::string CheckpointKey(const v1::LogProof& proof, const std::string& log_shard_id,
                          size_t min_cosignatures, const std::vector<NoteVerifierKey>& witnesses,
                          absl::Span<const NoteVerifierKey> published_logs) {
  const v1::SignedLogKeyEndorsement& endorsement = proof.log_key_endorsement();
  std::string input;
  input.reserve(proof.checkpoint_note().size() + endorsement.tbs().size() +
                endorsement.signature().value().size() + log_shard_id.size() + 64);
  AppendLengthPrefixed(proof.checkpoint_note(), &input);
  AppendLengthPrefixed(log_shard_id, &input);
  AppendLengthPrefixed(endorsement.tbs(), &input);
  AppendLengthPrefixed(absl::StrCat(endorsement.signature().algorithm()), &input);
  AppendLengthPrefixed(endorsement.signature().value(), &input);
  AppendLengthPrefixed(absl::StrCat(min_cosignatures), &input);
  // Which witnesses count, and which logs are published, depend on the VA the statement names
  // (client/vd_verifier.cc).
  for (absl::Span<const NoteVerifierKey> keys : {absl::MakeConstSpan(witnesses), published_logs}) {
    AppendLengthPrefixed(absl::StrCat(keys.size()), &input);
    for (const NoteVerifierKey& key : keys) {
      AppendLengthPrefixed(key.name, &input);
      AppendLengthPrefixed(absl::StrCat(key.key_id), &input);
      AppendLengthPrefixed(key.public_key, &input);
    }
  }
  return Sha256(input);
}

// PERMISSION_DENIED unless the log key is endorsed for the VA the statement names.
absl::Status CheckEndorsedVa(const std::string& endorsed_va_id,
                             const v1::VouchingStatement& statement) {
  if (endorsed_va_id != statement.va_id()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the log key is endorsed for VA '", endorsed_va_id, "', not '", statement.va_id(), "'"));
  }
  return absl::OkStatus();
}

// PERMISSION_DENIED when the client's VA list names the VA's public logs and none of them is the
// log `origin` with the endorsed key.
absl::Status CheckPublishedLog(const std::string& origin, const v1::LogKeyEndorsement& endorsement,
                               const VerifiedVaPath& path) {
  if (path.published_logs.empty()) return absl::OkStatus();
  for (const NoteVerifierKey& log : path.published_logs) {
    if (log.name != origin) continue;
    if (log.public_key == endorsement.log_public_key()) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's log key is not the key VA '", endorsement.va_id(),
                     "' publishes for the log \"", origin, "\" (log_vkeys)"));
  }
  return absl::PermissionDeniedError(absl::StrCat("the VD is proven in the log \"", origin,
                                                  "\", which VA '", endorsement.va_id(),
                                                  "' does not publish (log_vkeys)"));
}

// What the VD's checkpoint note states, after the endorsement and the note verified: the first
// time under this VA path, or before (client/verified_va_cache.h), since the cache key covers every
// byte those verifications read.
absl::StatusOr<VerifiedCheckpoint> CheckpointOf(const v1::LogProof& proof,
                                                const v1::VouchingStatement& statement,
                                                const VerifiedVaPath& path) {
  const std::string key = CheckpointKey(proof, statement.log_shard_id(), path.min_cosignatures,
                                        path.witnesses, path.published_logs);
  std::optional<VerifiedCheckpoint> held =
      path.cache->FindVerifiedCheckpoint(path.chain_sha256, path.ca_sha256, key);
  if (held.has_value()) return *std::move(held);
  ASSIGN_OR_RETURN(v1::LogKeyEndorsement endorsement,
                   VerifyEndorsement(proof.log_key_endorsement(), path));
  // Before the note: the witnesses that count are those of the VAs other than the statement's, so
  // a note is verified, and remembered, only for a VD of the VA that endorsed its log key.
  RETURN_IF_ERROR(CheckEndorsedVa(endorsement.va_id(), statement));
  const std::string origin =
      absl::StrCat(endorsement.log_origin_prefix(), "/", statement.log_shard_id());
  RETURN_IF_ERROR(CheckPublishedLog(origin, endorsement, path));
  ASSIGN_OR_RETURN(std::string text,
                   VerifyNote(proof.checkpoint_note(), origin, endorsement, path));
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(text);
  if (!checkpoint.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's checkpoint note: ", checkpoint.status().message()));
  }
  if (checkpoint->origin != origin) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the VD's checkpoint is of the log \"", checkpoint->origin, "\", not \"", origin, "\""));
  }
  VerifiedCheckpoint verified{endorsement.va_id(), std::move(checkpoint->origin),
                              checkpoint->tree_size, std::move(checkpoint->root_hash)};
  path.cache->RememberVerifiedCheckpoint(path.chain_sha256, path.ca_sha256, key, verified);
  return verified;
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
  ASSIGN_OR_RETURN(VerifiedCheckpoint checkpoint, CheckpointOf(proof, statement, path));
  RETURN_IF_ERROR(CheckEndorsedVa(checkpoint.va_id, statement));
  const std::string leaf = LeafHash(LogEntryBytes(vd.statement(), proof.record_sha256()));
  const std::vector<absl::string_view> nodes(proof.inclusion_proof().begin(),
                                             proof.inclusion_proof().end());
  absl::Status included = VerifyInclusionOfViews(leaf, statement.log_index(), checkpoint.tree_size,
                                                 nodes, checkpoint.root_hash);
  if (!included.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD's statement is not proven at log index ", statement.log_index(),
                     " of a tree of ", checkpoint.tree_size, " entries: ", included.message()));
  }
  return absl::OkStatus();
}

}  // namespace mecai
