#include "witness/testing/test_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/pki/pki_builder.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "witness/add_checkpoint_request.h"

namespace mecai {
namespace witness {

absl::StatusOr<std::unique_ptr<TestLog>> TestLog::Create(const std::string& origin) {
  std::unique_ptr<TestLog> log(new TestLog());
  log->origin_ = origin;
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEd25519Key());
  ASSIGN_OR_RETURN(log->key_, Ed25519VerifierKey(origin, key.get()));
  ASSIGN_OR_RETURN(log->signer_, InMemorySigningKey::Create(std::move(key)));
  return log;
}

absl::Status TestLog::GrowTo(uint64_t size, const std::string& tag) {
  while (tree_.size() < size) {
    RETURN_IF_ERROR(tree_.AppendLeafHash(LeafHash(absl::StrCat(tag, " ", tree_.size()))));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestLog::Text(uint64_t size) const {
  TlogCheckpoint checkpoint;
  checkpoint.origin = origin_;
  checkpoint.tree_size = size;
  ASSIGN_OR_RETURN(checkpoint.root_hash, tree_.RootHash(size));
  return FormatCheckpointText(checkpoint);
}

absl::StatusOr<std::string> TestLog::Note(uint64_t size, SigningKey* signer) const {
  ASSIGN_OR_RETURN(std::string text, Text(size));
  if (signer == nullptr) {
    ASSIGN_OR_RETURN(NoteSignature signature, SignNoteText(text, key_, *signer_));
    return FormatSignedNote(text, {signature});
  }
  ASSIGN_OR_RETURN(v1::Signature raw, signer->Sign(text));
  return FormatSignedNote(text, {NoteSignature{key_.name, key_.key_id, raw.value()}});
}

absl::StatusOr<std::vector<std::string>> TestLog::Proof(uint64_t old_size, uint64_t size) const {
  if (old_size == 0) return std::vector<std::string>();
  return tree_.ConsistencyProof(old_size, size);
}

absl::StatusOr<std::string> TestLog::Body(uint64_t old_size, uint64_t size) const {
  AddCheckpointRequest request;
  request.old_size = old_size;
  ASSIGN_OR_RETURN(request.consistency_proof, Proof(old_size, size));
  ASSIGN_OR_RETURN(request.note, Note(size));
  return FormatAddCheckpointRequest(request);
}

}  // namespace witness
}  // namespace mecai
