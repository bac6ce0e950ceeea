#include "witness/witness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/merkle.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "witness/add_checkpoint_request.h"

namespace mecai {
namespace witness {
namespace {

AddCheckpointResult Answer(int status, const char* result, std::string body) {
  AddCheckpointResult answer;
  answer.status = status;
  answer.result = result;
  answer.body = std::move(body);
  if (!answer.body.empty() && answer.body.back() != '\n') answer.body.push_back('\n');
  return answer;
}

AddCheckpointResult Conflict(uint64_t latest_size) {
  AddCheckpointResult answer;
  answer.status = 409;
  answer.result = "conflict";
  answer.content_type = "text/x.tlog.size";
  answer.body = absl::StrCat(latest_size, "\n");
  return answer;
}

}  // namespace

Witness::Witness(std::map<std::string, std::vector<NoteVerifierKey>> logs, NoteVerifierKey key,
                 SigningKey& signer, WitnessState& state, const Clock& clock,
                 WitnessMetrics* metrics)
    : key_(std::move(key)), signer_(signer), state_(state), clock_(clock), metrics_(metrics) {
  for (auto& [origin, keys] : logs) {
    auto log = std::make_unique<Log>();
    log->keys = std::move(keys);
    if (metrics_ != nullptr) {
      std::optional<CosignedTree> cosigned = state_.Get(origin);
      metrics_->RecordCosignedSize(origin, cosigned ? cosigned->tree_size : 0);
    }
    logs_.emplace(origin, std::move(log));
  }
}

AddCheckpointResult Witness::AddCheckpoint(absl::string_view body) {
  AddCheckpointResult answer = Decide(body);
  if (metrics_ != nullptr) metrics_->RecordRequest(answer.result);
  return answer;
}

AddCheckpointResult Witness::Decide(absl::string_view body) {
  absl::StatusOr<AddCheckpointRequest> request = ParseAddCheckpointRequest(body);
  if (!request.ok()) return Answer(400, "malformed", std::string(request.status().message()));
  absl::StatusOr<ParsedNote> parsed = ParseSignedNote(request->note);
  if (!parsed.ok()) {
    return Answer(400, "malformed",
                  absl::StrCat("the checkpoint note: ", parsed.status().message()));
  }
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(parsed->text);
  if (!checkpoint.ok()) return Answer(400, "malformed", std::string(checkpoint.status().message()));
  auto it = logs_.find(checkpoint->origin);
  if (it == logs_.end()) {
    return Answer(404, "unknown_log",
                  absl::StrCat("this witness does not witness the log ", checkpoint->origin));
  }
  Log& log = *it->second;
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(request->note, log.keys);
  if (!opened.ok()) {
    return Answer(403, "bad_signature",
                  absl::StrCat("no signature of ", checkpoint->origin,
                               "'s key verifies: ", opened.status().message()));
  }
  if (request->old_size > checkpoint->tree_size) {
    return Answer(400, "malformed",
                  absl::StrCat("the old size ", request->old_size,
                               " is larger than the checkpoint's size ", checkpoint->tree_size));
  }

  // Check, record and cosign as one step for this origin (c2sp.org/tlog-witness: otherwise two
  // requests could roll the recorded tree back).
  absl::MutexLock lock(&log.mutex);
  const std::optional<CosignedTree> latest = state_.Get(checkpoint->origin);
  const uint64_t latest_size = latest ? latest->tree_size : 0;
  if (request->old_size != latest_size) return Conflict(latest_size);
  if (latest && checkpoint->tree_size == latest->tree_size) {
    if (checkpoint->root_hash != latest->root_hash) {
      MECAI_LOG(Warning) << "log " << checkpoint->origin << " signed another tree of size "
                         << latest->tree_size
                         << " than the one this witness cosigned: " << request->note;
      AddCheckpointResult fork = Conflict(latest_size);
      return fork;
    }
    if (!request->consistency_proof.empty()) {
      return Answer(422, "bad_proof", "a proof between equal trees is empty");
    }
  } else {
    const std::string old_root = latest ? latest->root_hash : EmptyTreeHash();
    absl::Status consistent = VerifyConsistency(request->old_size, checkpoint->tree_size, old_root,
                                                checkpoint->root_hash, request->consistency_proof);
    if (!consistent.ok()) {
      MECAI_LOG(Warning) << "log " << checkpoint->origin << ": no consistency from "
                         << request->old_size << " to " << checkpoint->tree_size << ": "
                         << consistent.message();
      return Answer(422, "bad_proof",
                    absl::StrCat("the consistency proof from ", request->old_size, " to ",
                                 checkpoint->tree_size, " does not verify"));
    }
  }
  absl::Status recorded =
      state_.Put(checkpoint->origin, CosignedTree{checkpoint->tree_size, checkpoint->root_hash});
  if (!recorded.ok()) {
    MECAI_LOG(Error) << "cannot record the checkpoint of " << checkpoint->origin << ": "
                     << recorded;
    return Answer(500, "internal", "the witness cannot record the checkpoint");
  }
  if (metrics_ != nullptr) metrics_->RecordCosignedSize(checkpoint->origin, checkpoint->tree_size);
  const int64_t now = clock_.NowUnixSeconds();
  absl::StatusOr<NoteSignature> cosignature =
      SignCosignatureV1(opened->text, key_, now < 0 ? 0 : static_cast<uint64_t>(now), signer_);
  if (!cosignature.ok()) {
    MECAI_LOG(Error) << "cannot cosign " << checkpoint->origin << ": " << cosignature.status();
    return Answer(500, "internal", "the witness cannot sign");
  }
  AddCheckpointResult cosigned;
  cosigned.result = "cosigned";
  cosigned.body = FormatNoteSignatureLine(*cosignature);
  return cosigned;
}

}  // namespace witness
}  // namespace mecai
