#include "cli/audit_client.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/va_chain.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/rpc/grpc_channel.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(30);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
}

// The checkpoint a previous audit kept in `path`; nullopt when the file does not exist yet.
absl::StatusOr<std::optional<v1::CheckpointBody>> ReadKeptCheckpoint(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  v1::CheckpointBody kept;
  if (!kept.ParseFromString(*text) || kept.log_shard_id().empty() || kept.va_id().empty() ||
      kept.root_hash().size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the state file ", path,
        " does not hold a checkpoint of an earlier audit (remove it to start afresh)"));
  }
  return kept;
}

}  // namespace

std::string DescribeRecord(const v1::QuorumRecord& record) {
  if (record.has_trust_list_change()) {
    // An administrative record: a maintainer-signed trust-list change (docs/PROTOCOL.md).
    const v1::TrustListChange& change = record.trust_list_change();
    return absl::StrCat(
        record.log_index(), "  ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S",
                         absl::FromUnixMillis(record.decided_at_unix_milliseconds()),
                         absl::UTCTimeZone()),
        "  trust list '", change.trust_list(), "'  ",
        v1::TrustListChange::Action_Name(change.action()), " ", ShortHex(change.root_sha256()),
        "  sequence ", change.sequence());
  }
  std::string decision = v1::Decision_Name(record.decision());
  if (record.decision() == v1::REFUSED) {
    absl::StrAppend(&decision, " ", v1::RefusalReason_Name(record.refusal().reason()));
  }
  return absl::StrCat(record.log_index(), "  ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S",
                                       absl::FromUnixMillis(record.decided_at_unix_milliseconds()),
                                       absl::UTCTimeZone()),
                      "  ", record.hostname().empty() ? std::string("-") : record.hostname(), ":",
                      record.port(), "  ", decision, "  ", record.perspectives_size(),
                      " perspectives");
}

absl::Status VerifyCheckpointNoteMatches(const v1::SignedCheckpoint& checkpoint,
                                         const v1::CheckpointBody& body,
                                         const CheckpointKey& signer) {
  // The endorsement states the prefix of the note's origin, and so which shard the note is of.
  const v1::SignedLogKeyEndorsement& endorsed = checkpoint.log_key_endorsement();
  if (signer.va_key == nullptr ||
      !VerifyObject(signer.va_key.get(), SignedObject::kLogKeyEndorsement, endorsed.signature(),
                    endorsed.tbs())
           .ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the checkpoint's log key endorsement does not verify under the key of VA '",
                     signer.va_id, "'"));
  }
  v1::LogKeyEndorsement endorsement;
  RETURN_IF_ERROR(ParseSignedBytes(endorsed.tbs(), "the log key endorsement", &endorsement));
  if (endorsement.va_id() != signer.va_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the checkpoint's log key endorsement is of VA '", endorsement.va_id(),
                     "', not '", signer.va_id, "'"));
  }
  absl::StatusOr<std::string> log_key = Ed25519RawPublicKey(signer.key.get());
  if (!log_key.ok() || *log_key != endorsement.log_public_key()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the checkpoint's log key endorsement endorses another key than the VA list's log key of "
        "VA '",
        signer.va_id, "'"));
  }
  const std::string origin =
      absl::StrCat(endorsement.log_origin_prefix(), "/", body.log_shard_id());
  absl::StatusOr<NoteVerifierKey> key = Ed25519VerifierKey(origin, signer.key.get());
  if (!key.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("the log key of VA '", signer.va_id,
                                                    "' cannot sign checkpoint notes of \"", origin,
                                                    "\": ", key.status().message()));
  }
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(checkpoint.note(), {*key});
  if (!opened.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the checkpoint note does not verify under the log key of VA '", signer.va_id,
                     "': ", opened.status().message()));
  }
  ASSIGN_OR_RETURN(TlogCheckpoint note, ParseCheckpointText(opened->text));
  if (note.origin != origin || note.tree_size != body.tree_size() ||
      note.root_hash != body.root_hash()) {
    return absl::PermissionDeniedError(
        "the checkpoint note does not state the checkpoint's log, size and root");
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointKey> CheckpointVerificationKey(const v1::SignedCheckpoint& checkpoint,
                                                        const VaList& vas, absl::Time now) {
  if (checkpoint.va_certificate_chain_der().empty()) {
    return absl::InvalidArgumentError("the checkpoint carries no VA certificate");
  }
  auto validated = ValidateVaChain(checkpoint.va_certificate_chain_der(), vas, {}, now);
  if (!validated.ok()) return Annotate(validated.status(), "the checkpoint's VA certificate");
  // Checkpoints are signed by the VA's log key, never by the key its certificate certifies
  // (docs/VOUCHING_DATA.md §1 "Signed bytes and keys"): the auditor's VA list names it.
  CheckpointKey key;
  key.va_id = validated->va->config.id();
  key.va_key = std::move(validated->path.va_key);
  const std::string& log_key_file = validated->va->config.log_public_key_file();
  if (log_key_file.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the VA list names no log key for VA '", key.va_id,
                     "' (log_public_key_file); checkpoints cannot be verified without it"));
  }
  absl::StatusOr<EvpPkeyPtr> log_key = LoadPemPublicKey(log_key_file);
  if (!log_key.ok()) {
    return Annotate(log_key.status(), absl::StrCat("log_public_key_file of VA '", key.va_id, "'"));
  }
  key.key = std::move(*log_key);
  return key;
}

absl::StatusOr<v1::CheckpointBody> VerifyCheckpoint(const v1::SignedCheckpoint& checkpoint,
                                                    const VaList& vas, absl::Time now) {
  ASSIGN_OR_RETURN(CheckpointKey signer, CheckpointVerificationKey(checkpoint, vas, now));
  v1::CheckpointBody body;
  RETURN_IF_ERROR(ParseSignedBytes(checkpoint.tbs(), "the signed checkpoint", &body));
  if (!checkpoint.has_signature() && checkpoint.has_log_key_endorsement()) {
    // A signer set for logged VDs signs each tree head once, as its C2SP note
    // (docs/VOUCHING_DATA.md "Logged VDs"): the note must be signed by this VA's log key and
    // state the body's size and root.
    RETURN_IF_ERROR(VerifyCheckpointNoteMatches(checkpoint, body, signer));
  } else if (!VerifyObject(signer.key.get(), SignedObject::kCheckpoint, checkpoint.signature(),
                           checkpoint.tbs())
                  .ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the checkpoint signature does not verify under the key of VA '", signer.va_id, "'"));
  }
  if (body.va_id() != signer.va_id) {
    return absl::PermissionDeniedError(absl::StrCat("the checkpoint names VA '", body.va_id(),
                                                    "' but is signed with the key of VA '",
                                                    signer.va_id, "'"));
  }
  return body;
}

void CheckNamedEvidence(const v1::QuorumRecord& record, const EvidenceFetch& fetch,
                        absl::flat_hash_set<std::string>* checked,
                        std::vector<std::string>* problems) {
  for (const v1::RevocationEvidence& evidence : record.revocation()) {
    const std::string& sha256 = evidence.response_sha256();
    if (sha256.empty() || !checked->insert(sha256).second) continue;
    absl::StatusOr<std::string> served = fetch(sha256);
    if (!served.ok()) {
      problems->push_back(absl::StrCat("record ", record.log_index(),
                                       ": the log does not serve the revocation evidence ",
                                       HexEncode(sha256), " (", served.status().message(), ")"));
    } else if (Sha256(*served) != sha256) {
      problems->push_back(absl::StrCat("record ", record.log_index(),
                                       ": the revocation evidence served for ", HexEncode(sha256),
                                       " does not hash to it"));
    }
  }
}

absl::Status CheckSameLog(const v1::CheckpointBody& kept, const v1::CheckpointBody& checkpoint) {
  if (kept.log_shard_id() != checkpoint.log_shard_id() || kept.va_id() != checkpoint.va_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint is of log shard '", checkpoint.log_shard_id(), "' signed by VA '",
        checkpoint.va_id(), "', but the state file holds log shard '", kept.log_shard_id(),
        "' signed by VA '", kept.va_id(), "'"));
  }
  return absl::OkStatus();
}

namespace {

// The steps of RunAudit, in order.

// What --verify needs before any call: the VA list, and the checkpoint an earlier audit kept.
struct VerificationInputs {
  std::unique_ptr<VaList> vas;
  std::optional<v1::CheckpointBody> kept;
};

absl::StatusOr<VerificationInputs> LoadVerificationInputs(const AuditOptions& options) {
  VerificationInputs inputs;
  if (!options.verify) return inputs;
  if (options.va_list_file.empty()) {
    return absl::InvalidArgumentError(
        "verifying a checkpoint needs the VA list that says which VA may sign it (--va-list)");
  }
  ASSIGN_OR_RETURN(inputs.vas, VaList::Load(options.va_list_file));
  if (!options.state_file.empty()) {
    ASSIGN_OR_RETURN(inputs.kept, ReadKeptCheckpoint(options.state_file));
  }
  return inputs;
}

// Fetches the shard's signed checkpoint and verifies it against `vas` (VerifyCheckpoint). nullopt,
// with the problem in `report`, when it does not verify.
absl::StatusOr<std::optional<v1::CheckpointBody>> FetchVerifiedCheckpoint(
    v1::AuditService::StubInterface& stub, const VaList& vas, std::ostream& out,
    AuditReport* report) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetCheckpointResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      stub.GetCheckpoint(&context, v1::GetCheckpointRequest(), &response), "GetCheckpoint"));
  auto body = VerifyCheckpoint(response.checkpoint(), vas, absl::Now());
  if (!body.ok()) {
    report->problems.push_back(std::string(body.status().message()));
    return std::nullopt;
  }
  report->tree_size = body->tree_size();
  out << "checkpoint: shard " << body->log_shard_id() << ", " << body->tree_size()
      << " records, root " << HexEncode(body->root_hash()) << ", signed by VA " << body->va_id()
      << "\n";
  return *std::move(body);
}

// RFC 9162 §2.1.3: the server's inclusion proof of the record at `log_index` in the tree of
// `tree_size` records; nullopt when the call fails.
std::optional<v1::GetInclusionProofResponse> FetchInclusionProof(
    v1::AuditService::StubInterface& stub, uint64_t log_index, uint64_t tree_size) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetInclusionProofRequest request;
  request.set_log_index(log_index);
  request.set_tree_size(tree_size);
  v1::GetInclusionProofResponse proof;
  if (!stub.GetInclusionProof(&context, request, &proof).ok()) return std::nullopt;
  return proof;
}

// True when `proof` proves the leaf `leaf_hash` is at `log_index` in the tree `checkpoint` signs.
bool ProvesInclusion(const v1::GetInclusionProofResponse& proof, const std::string& leaf_hash,
                     uint64_t log_index, const v1::CheckpointBody& checkpoint) {
  std::vector<std::string> path(proof.audit_path().begin(), proof.audit_path().end());
  return VerifyInclusion(leaf_hash, log_index, checkpoint.tree_size(), path, checkpoint.root_hash())
      .ok();
}

// Prints `record` in full: its refusal, every perspective, its revocation evidence, and the
// trust-list change it records.
void DescribeRecordInFull(const v1::QuorumRecord& record, std::ostream& out) {
  out << DescribeRecord(record) << "\n";
  if (record.has_refusal()) out << "  refusal: " << record.refusal().explanation() << "\n";
  for (const v1::PerspectiveResult& perspective : record.perspectives()) {
    out << "  " << perspective.perspective().id() << " (" << perspective.perspective().region()
        << "): " << perspective.detail() << "\n";
  }
  for (const v1::RevocationEvidence& evidence : record.revocation()) {
    out << "  revocation: " << v1::RevocationSource_Name(evidence.source()) << " from "
        << evidence.url();
    if (!evidence.response_sha256().empty()) {
      out << " (sha256 " << HexEncode(evidence.response_sha256()) << ")";
    }
    out << "\n";
  }
  if (record.has_unrecorded_vouching_data()) {
    // A VD the signer signed whose own record does not carry it (docs/SECURITY.md T7).
    v1::VouchingStatement statement;
    if (statement.ParseFromString(record.unrecorded_vouching_data().statement())) {
      out << "  VD recorded here: signed at log index " << statement.log_index() << " for "
          << statement.hostname() << ":" << statement.port() << "\n";
    }
  }
  if (record.has_trust_list_change()) {
    const v1::TrustListChange& change = record.trust_list_change();
    out << "  trust-list change: " << v1::TrustListChange::Action_Name(change.action()) << " "
        << HexEncode(change.root_sha256()) << ", sequence " << change.sequence()
        << ", signed by maintainer key " << HexEncode(change.maintainer_key_sha256())
        << ", submitted by " << change.administrator() << "\n"
        << "  reason: " << change.reason() << "\n";
  }
}

// With --verify: the AuditService's GetEvidence as an EvidenceFetch.
EvidenceFetch AuditServiceEvidence(v1::AuditService::StubInterface& stub) {
  return [&stub](const std::string& sha256) -> absl::StatusOr<std::string> {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetEvidenceRequest request;
    request.set_sha256(sha256);
    v1::GetEvidenceResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(stub.GetEvidence(&context, request, &response), "GetEvidence"));
    return response.der();
  };
}

// --log-index: fetches the one record, prints it in full and, with --verify, checks it is in the
// signed log.
absl::Status ShowOneRecord(v1::AuditService::StubInterface& stub, const AuditOptions& options,
                           const v1::CheckpointBody& checkpoint, std::ostream& out,
                           AuditReport* report) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetRecordRequest request;
  request.set_log_index(static_cast<uint64_t>(options.log_index));
  v1::GetRecordResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub.GetRecord(&context, request, &response), "GetRecord"));
  const v1::QuorumRecord& record = response.record();
  DescribeRecordInFull(record, out);
  ++report->records_listed;
  if (!options.verify || record.log_index() >= checkpoint.tree_size()) return absl::OkStatus();
  std::optional<v1::GetInclusionProofResponse> proof =
      FetchInclusionProof(stub, record.log_index(), checkpoint.tree_size());
  if (!proof.has_value() ||
      !ProvesInclusion(*proof, LeafHashOfRecord(record.SerializeAsString()).value_or(std::string()),
                       record.log_index(), checkpoint)) {
    report->problems.push_back(
        absl::StrCat("record ", record.log_index(), " is not provably in the signed log"));
  }
  absl::flat_hash_set<std::string> checked;
  CheckNamedEvidence(record, AuditServiceEvidence(stub), &checked, &report->problems);
  return absl::OkStatus();
}

// The page of records at `page_token` (empty: the first) that the filters of `options` select.
absl::StatusOr<v1::ListRecordsResponse> ListRecordsPage(v1::AuditService::StubInterface& stub,
                                                        const AuditOptions& options,
                                                        const std::string& page_token) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListRecordsRequest request;
  request.set_hostname(options.hostname);
  request.set_since_unix_milliseconds(options.since_unix_milliseconds);
  request.set_page_size(500);
  request.set_page_token(page_token);
  v1::ListRecordsResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub.ListRecords(&context, request, &response), "ListRecords"));
  return response;
}

// Lists every record the filters select, page by page, one line each. With --verify, each record
// the checkpoint covers must be provably in the signed log and, unfiltered, the indexes must run
// from 0 to the checkpoint's tree size without a gap.
absl::Status WalkRecords(v1::AuditService::StubInterface& stub, const AuditOptions& options,
                         const v1::CheckpointBody& checkpoint, std::ostream& out,
                         AuditReport* report) {
  const bool unfiltered = options.hostname.empty() && options.since_unix_milliseconds == 0;
  std::string page_token;
  uint64_t expected_index = 0;
  absl::flat_hash_set<std::string> evidence_checked;
  do {
    ASSIGN_OR_RETURN(v1::ListRecordsResponse response, ListRecordsPage(stub, options, page_token));
    for (const v1::QuorumRecord& record : response.records()) {
      out << DescribeRecord(record) << "\n";
      ++report->records_listed;
      if (!options.verify || record.log_index() >= checkpoint.tree_size()) continue;
      if (unfiltered && record.log_index() != expected_index) {
        report->problems.push_back(absl::StrCat("gap: expected record ", expected_index,
                                                ", the log returned ", record.log_index()));
      }
      expected_index = record.log_index() + 1;
      const std::string leaf_hash =
          LeafHashOfRecord(record.SerializeAsString()).value_or(std::string());
      std::optional<v1::GetInclusionProofResponse> proof =
          FetchInclusionProof(stub, record.log_index(), checkpoint.tree_size());
      if (!proof.has_value() || proof->leaf_hash() != leaf_hash ||
          !ProvesInclusion(*proof, leaf_hash, record.log_index(), checkpoint)) {
        report->problems.push_back(
            absl::StrCat("record ", record.log_index(), " is not provably in the signed log"));
      }
      CheckNamedEvidence(record, AuditServiceEvidence(stub), &evidence_checked, &report->problems);
    }
    page_token = response.next_page_token();
  } while (!page_token.empty());
  if (options.verify && unfiltered && expected_index != checkpoint.tree_size()) {
    report->problems.push_back(absl::StrCat("the log lists ", expected_index,
                                            " records but the checkpoint covers ",
                                            checkpoint.tree_size()));
  }
  return absl::OkStatus();
}

// RFC 9162 §2.1.4: the checkpoint an earlier audit kept must be of the same log shard and VA, and
// `checkpoint` must extend it (a shrunk or forked log is a problem).
void CheckConsistencyWithKept(v1::AuditService::StubInterface& stub,
                              const std::optional<v1::CheckpointBody>& kept,
                              const v1::CheckpointBody& checkpoint, std::ostream& out,
                              AuditReport* report) {
  absl::Status same_log = kept.has_value() ? CheckSameLog(*kept, checkpoint) : absl::OkStatus();
  if (!same_log.ok()) {
    report->problems.push_back(std::string(same_log.message()));
    return;
  }
  if (!kept.has_value()) return;
  const v1::CheckpointBody& previous = *kept;
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetConsistencyProofRequest request;
  request.set_first_tree_size(previous.tree_size());
  request.set_second_tree_size(checkpoint.tree_size());
  v1::GetConsistencyProofResponse proof;
  grpc::Status status = stub.GetConsistencyProof(&context, request, &proof);
  std::vector<std::string> nodes(proof.proof().begin(), proof.proof().end());
  if (previous.tree_size() > checkpoint.tree_size()) {
    report->problems.push_back(absl::StrCat("the log shrank from ", previous.tree_size(), " to ",
                                            checkpoint.tree_size(), " records"));
  } else if (!status.ok() || !VerifyConsistency(previous.tree_size(), checkpoint.tree_size(),
                                                previous.root_hash(), checkpoint.root_hash(), nodes)
                                  .ok()) {
    report->problems.push_back(absl::StrCat(
        "fork: the log of ", checkpoint.tree_size(), " records is not an extension of the one of ",
        previous.tree_size(), " records seen before (RFC 9162 consistency proof fails)"));
  } else {
    out << "consistent with the checkpoint of " << previous.tree_size() << " records seen before\n";
  }
}

}  // namespace

absl::StatusOr<AuditReport> RunAudit(const AuditOptions& options, std::ostream& out) {
  ASSIGN_OR_RETURN(VerificationInputs inputs, LoadVerificationInputs(options));
  ASSIGN_OR_RETURN(auto channel, MakeChannel(options.vouching_server, 64 << 20));
  auto stub = v1::AuditService::NewStub(channel);
  AuditReport report;

  v1::CheckpointBody checkpoint;
  if (options.verify) {
    ASSIGN_OR_RETURN(std::optional<v1::CheckpointBody> verified,
                     FetchVerifiedCheckpoint(*stub, *inputs.vas, out, &report));
    if (!verified.has_value()) return report;
    checkpoint = *std::move(verified);
  }
  if (options.log_index >= 0) {
    RETURN_IF_ERROR(ShowOneRecord(*stub, options, checkpoint, out, &report));
    return report;
  }
  RETURN_IF_ERROR(WalkRecords(*stub, options, checkpoint, out, &report));
  if (options.verify && !options.state_file.empty()) {
    CheckConsistencyWithKept(*stub, inputs.kept, checkpoint, out, &report);
    if (report.problems.empty()) {
      RETURN_IF_ERROR(WriteFileAtomically(options.state_file, checkpoint.SerializeAsString()));
    }
  }
  return report;
}

}  // namespace mecai
