#include "signer/vouching_signer.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/approval_record.h"
#include "common/evidence/quorum_policy.h"
#include "common/evidence/refusal.h"
#include "common/revocation/revocation.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"

namespace mecai {
namespace {

v1::SignVouchingResponse RefusalResponse(v1::Refusal refusal) {
  v1::SignVouchingResponse response;
  *response.mutable_refusal() = std::move(refusal);
  return response;
}

v1::SignVouchingResponse EvidenceNeededResponse(const std::vector<std::string>& missing) {
  v1::SignVouchingResponse response;
  for (const std::string& sha256 : missing) {
    response.mutable_evidence_needed()->add_response_sha256(sha256);
  }
  return response;
}

}  // namespace

VouchingSigner::VouchingSigner(const v1::SignerConfig& config,
                               std::vector<std::string> va_chain_der, Keys keys,
                               SignerLogState& log_state, const EnrolledAgents& agents,
                               const TrustLists& trust_lists, const Clock& clock,
                               SignerMetrics* metrics, EVP_PKEY* approval_key,
                               EvidenceCache* evidence_cache)
    : config_(config),
      va_chain_der_(std::move(va_chain_der)),
      limits_([&config] {
        VouchingRequestLimits limits;
        limits.freshness_window = absl::Seconds(config.freshness_window_seconds());
        return limits;
      }()),
      va_key_(keys.va_key),
      log_key_(keys.log_key),
      log_public_key_(keys.log_public_key),
      log_state_(log_state),
      agents_(agents),
      trust_lists_(trust_lists),
      clock_(clock),
      metrics_(metrics),
      approval_key_(approval_key),
      evidence_cache_(evidence_cache) {}

absl::StatusOr<v1::Signature> VouchingSigner::SignTimed(SigningKey& key, SignedObject kind,
                                                        absl::string_view bytes,
                                                        const char* metric_kind) {
  const absl::Time started = absl::Now();
  absl::StatusOr<v1::Signature> signature = SignObject(key, kind, bytes);
  if (signature.ok() && metrics_ != nullptr) {
    metrics_->RecordSignature(metric_kind, absl::ToDoubleSeconds(absl::Now() - started));
  }
  return signature;
}

absl::StatusOr<v1::SignVouchingResponse> VouchingSigner::SignVouching(
    const v1::SignVouchingRequest& request) {
  absl::StatusOr<v1::SignVouchingResponse> response = CheckAndSign(request);
  if (response.ok() && response->has_refusal()) {
    MECAI_LOG_EVENT(Warning, "signing_refused")
        << "refused to sign: " << v1::RefusalReason_Name(response->refusal().reason()) << ": "
        << response->refusal().explanation();
    if (metrics_ != nullptr) metrics_->RecordRefusal(response->refusal().reason());
  }
  return response;
}

absl::StatusOr<v1::SignVouchingResponse> VouchingSigner::CheckAndSign(
    const v1::SignVouchingRequest& request) {
  const absl::Time now = clock_.Now();
  // The coordinator is not trusted: the VR is checked again from its bytes.
  VouchingRequestCheck check =
      CheckVouchingRequest(request.vouching_request(), limits_, trust_lists_, now);
  if (!check.accepted()) return RefusalResponse(check.refusal);
  const VerifiedVouchingRequest& vr = check.request;
  v1::Refusal refusal = CheckRoundFields(request);
  if (!IsAccepted(refusal)) return RefusalResponse(std::move(refusal));

  std::map<std::string, v1::ObservationBody> by_perspective;
  refusal = VerifyObservations(request, vr, now, &by_perspective);
  if (!IsAccepted(refusal)) return RefusalResponse(std::move(refusal));
  const QuorumDecision decision = DecideOnObservations(by_perspective, vr);
  if (!decision.issued()) return RefusalResponse(decision.refusal);

  // ARCHITECTURE.md §8 "Evidence by content hash": responses named by hash come from the bytes
  // the signer hashed itself; missing ones are asked for before anything is signed or journaled.
  const ResolvedEvidence evidence = ResolveEvidence(request.revocation(), evidence_cache_);
  if (!evidence.missing.empty()) return EvidenceNeededResponse(evidence.missing);
  const RevocationJudgement revocation = CheckRevocationEvidence(evidence.evidence, vr, now);
  if (!revocation.good()) {
    return RefusalResponse(MakeRefusal(revocation.reason, revocation.explanation));
  }

  // ARCHITECTURE.md §7: out-of-band approval, checked from the approval service's own signature.
  const bool approval_required = trust_lists_.RequiresIssuanceApproval(vr.body.trust_list());
  if (approval_required) {
    refusal = CheckApproval(request, vr, now);
    if (!IsAccepted(refusal)) return RefusalResponse(std::move(refusal));
  }

  ASSIGN_OR_RETURN(SignerLogState::IndexClaim claim, ClaimLogIndex(request));
  if (!claim.claimed) return IndexTakenResponse(claim);
  const v1::VouchingStatement statement =
      StatementFor(request, vr, decision, revocation, approval_required, now);
  if (config_.logged_vouching_data()) return ApproveStatement(statement, vr, request);
  absl::StatusOr<v1::SignVouchingResponse> signed_vd = SignStatement(statement, vr, request);
  if (!signed_vd.ok()) {
    log_state_.ReleaseClaim(request.log_shard_id(), request.log_index());
    return signed_vd;
  }
  // The VD leaves only once the journal holds it (docs/SECURITY.md T7).
  RETURN_IF_ERROR(log_state_.RecordVouched(request.log_shard_id(), request.log_index(),
                                           signed_vd->vouching_data().statement(),
                                           signed_vd->vouching_data().signature()));
  return signed_vd;
}

v1::Refusal VouchingSigner::CheckRoundFields(const v1::SignVouchingRequest& request) {
  // probe.proto ProbeTask.nonce: 16..64 random bytes. A field of this request, not of an
  // Observation: out of range is a malformed request.
  if (request.probe_nonce().size() < kMinProbeNonceBytes ||
      request.probe_nonce().size() > kMaxProbeNonceBytes) {
    return MakeRefusal(
        v1::MALFORMED_REQUEST,
        absl::StrCat("the probe nonce must have ", kMinProbeNonceBytes, " to ", kMaxProbeNonceBytes,
                     " bytes; it has ", request.probe_nonce().size()));
  }
  if (request.log_shard_id().empty()) {
    return MakeRefusal(v1::MALFORMED_REQUEST, "the log shard id is missing");
  }
  return v1::Refusal();
}

v1::Refusal VouchingSigner::VerifyObservations(
    const v1::SignVouchingRequest& request, const VerifiedVouchingRequest& vr, absl::Time now,
    std::map<std::string, v1::ObservationBody>* by_perspective) const {
  // Every Observation: signed by an enrolled agent, bound to this VR and probe round, fresh.
  const ObservationExpectation expected = ExpectationFor(
      vr, request.probe_nonce(), now, absl::Seconds(config_.observation_max_age_seconds()));
  for (const v1::SignedObservation& observation : request.observations()) {
    auto body = agents_.VerifyFromAnyAgent(observation, expected);
    if (!body.ok())
      return MakeRefusal(v1::INVALID_OBSERVATION, std::string(body.status().message()));
    const std::string id = body->perspective().id();
    if (!by_perspective->emplace(id, std::move(*body)).second) {
      return MakeRefusal(v1::INVALID_OBSERVATION,
                         absl::StrCat("two Observations from perspective '", id, "'"));
    }
  }
  return v1::Refusal();
}

QuorumDecision VouchingSigner::DecideOnObservations(
    const std::map<std::string, v1::ObservationBody>& by_perspective,
    const VerifiedVouchingRequest& vr) const {
  std::vector<PerspectiveOutcome> outcomes;
  for (const v1::Perspective& perspective : agents_.perspectives()) {
    PerspectiveOutcome outcome;
    outcome.perspective = perspective;
    auto it = by_perspective.find(perspective.id());
    if (it == by_perspective.end()) {
      outcome.kind = PerspectiveOutcome::Kind::kUnreachable;
      outcome.failure = "no Observation was presented to the signer";
    } else {
      outcome.kind = PerspectiveOutcome::Kind::kObserved;
      outcome.body = it->second;
    }
    outcomes.push_back(std::move(outcome));
  }
  return DecideQuorum(outcomes, vr.vouched, config_.policy());
}

RevocationJudgement VouchingSigner::CheckRevocationEvidence(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
    const VerifiedVouchingRequest& vr, absl::Time now) const {
  // The revocation evidence itself (the CRL or OCSP response) must verify now for every vouched
  // certificate, under the rule the coordinator applies (common/revocation/revocation.h
  // CombineRevocationVerdicts): revoked anywhere refuses; every source the certificate names must
  // say good, recently enough. The time the VD states is the one the CA signed into the evidence.
  RevocationLimits revocation_limits;
  if (config_.revocation_evidence_max_age_seconds() > 0) {
    revocation_limits.max_evidence_age =
        absl::Seconds(config_.revocation_evidence_max_age_seconds());
  }
  RevocationJudgement judgement = JudgeRevocationOfEveryCertificate(
      evidence, vr.validated_paths, now, revocation_limits, &parsed_crls_);
  if (metrics_ != nullptr) {
    metrics_->SetParsedCrls(parsed_crls_.size(), parsed_crls_.held_memory_bytes(),
                            parsed_crls_.hits());
  }
  return judgement;
}

absl::StatusOr<SignerLogState::IndexClaim> VouchingSigner::ClaimLogIndex(
    const v1::SignVouchingRequest& request) {
  // The VD's log position must be one no signed checkpoint covers and no other VD took. Not a
  // refusal of the evidence but of the position, after which an honest coordinator abandons that
  // index and asks again at its next one.
  absl::StatusOr<SignerLogState::IndexClaim> claim =
      log_state_.ClaimVouchingIndex(request.log_shard_id(), request.log_index());
  if (!claim.ok()) {
    MECAI_LOG_EVENT(Warning, "signing_refused")
        << "refused to sign at a log position: " << claim.status().message();
  } else if (!claim->claimed) {
    MECAI_LOG_EVENT(Warning, "signing_refused")
        << "refused to sign at a log position: " << claim->explanation;
  }
  return claim;
}

v1::SignVouchingResponse VouchingSigner::IndexTakenResponse(
    const SignerLogState::IndexClaim& claim) const {
  v1::SignVouchingResponse response;
  v1::LogIndexTaken* taken = response.mutable_log_index_taken();
  taken->set_explanation(claim.explanation);
  if (claim.vouched.has_value()) {
    *taken->mutable_vouching_data_at_index() = VouchingDataOf(*claim.vouched);
  }
  return response;
}

v1::VouchingData VouchingSigner::VouchingDataOf(const v1::SignerVouchedEntry& entry) const {
  v1::VouchingData vd;
  vd.set_statement(entry.statement());
  *vd.mutable_signature() = entry.signature();
  for (const std::string& der : va_chain_der_) vd.add_va_certificate_chain_der(der);
  return vd;
}

v1::VouchingStatement VouchingSigner::StatementFor(const v1::SignVouchingRequest& request,
                                                   const VerifiedVouchingRequest& vr,
                                                   const QuorumDecision& decision,
                                                   const RevocationJudgement& revocation,
                                                   bool approval_required, absl::Time now) const {
  // docs/VOUCHING_DATA.md §2: the statement carries hashes, not certificates. Built field by field
  // from values checked above; nothing is copied from the request.
  v1::VouchingStatement statement;
  statement.set_version(kVouchingStatementVersion);
  statement.set_va_id(config_.va_id());
  statement.set_trust_list(vr.body.trust_list());
  statement.set_hostname(vr.body.hostname());
  statement.set_port(vr.body.port());
  for (const std::string& sha256 : vr.leaf_sha256) statement.add_certificate_sha256(sha256);
  statement.set_probed_at_unix_seconds(decision.earliest_probe_unix_milliseconds / 1000);
  statement.set_revocation_checked_at_unix_seconds(absl::ToUnixSeconds(revocation.ca_signed_at));
  statement.set_revocation_source(revocation.source);
  for (const v1::Perspective& perspective : decision.agreeing) {
    *statement.add_perspectives() = perspective;
  }
  statement.set_log_index(request.log_index());
  statement.set_log_shard_id(request.log_shard_id());
  statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(now));
  statement.set_issuance_approved_out_of_band(approval_required);
  return statement;
}

absl::StatusOr<v1::SignVouchingResponse> VouchingSigner::SignStatement(
    const v1::VouchingStatement& statement, const VerifiedVouchingRequest& vr,
    const v1::SignVouchingRequest& request) {
  v1::SignVouchingResponse response;
  v1::VouchingData* vd = response.mutable_vouching_data();
  vd->set_statement(statement.SerializeAsString());
  ASSIGN_OR_RETURN(*vd->mutable_signature(), SignTimed(va_key_, SignedObject::kVouchingStatement,
                                                       vd->statement(), "vouching_data"));
  for (const std::string& der : va_chain_der_) vd->add_va_certificate_chain_der(der);
  MECAI_LOG(Info) << "signed VD for " << vr.body.hostname() << ":" << vr.body.port()
                  << " at log index " << request.log_index() << " of " << request.log_shard_id();
  return response;
}

absl::StatusOr<v1::SignVouchingResponse> VouchingSigner::ApproveStatement(
    const v1::VouchingStatement& statement, const VerifiedVouchingRequest& vr,
    const v1::SignVouchingRequest& request) {
  // No HSM signature: the statement becomes a VD only as a log entry in a checkpoint this signer
  // signs, and it signs none whose entries carry a statement not journaled here at its index.
  v1::SignVouchingResponse response;
  response.set_approved_statement(statement.SerializeAsString());
  RETURN_IF_ERROR(log_state_.RecordVouched(request.log_shard_id(), request.log_index(),
                                           response.approved_statement(), v1::Signature()));
  if (metrics_ != nullptr) metrics_->RecordApprovedStatement();
  MECAI_LOG(Info) << "approved a logged VD statement for " << vr.body.hostname() << ":"
                  << vr.body.port() << " at log index " << request.log_index() << " of "
                  << request.log_shard_id();
  return response;
}

v1::Refusal VouchingSigner::CheckApproval(const v1::SignVouchingRequest& request,
                                          const VerifiedVouchingRequest& vr, absl::Time now) const {
  if (approval_key_ == nullptr) {
    return MakeRefusal(v1::APPROVAL_REQUIRED,
                       "the trust list requires an out-of-band approval record, and this signer "
                       "has no approval service key to check one");
  }
  const absl::Duration max_age = absl::Seconds(config_.approval_record_max_age_seconds());
  for (const std::vector<X509Ptr>& path : vr.validated_paths) {
    const std::string key = SubjectPublicKeyInfoSha256(path[0].get());
    // The first record that approves this key counts; otherwise the refusal says why the closest
    // one (a record about this key, else any) did not.
    std::string problem;
    bool approved = false;
    for (const v1::SignedApprovalRecord& record : request.approval_records()) {
      ApprovalVerdict verdict =
          VerifyApprovalRecord(record, approval_key_, key, vr.body.hostname(), now, max_age);
      if (verdict.approved) {
        approved = true;
        break;
      }
      if (problem.empty() || verdict.body.subject_public_key_info_sha256() == key) {
        problem = verdict.explanation;
      }
    }
    if (!approved) {
      return MakeRefusal(
          v1::APPROVAL_REQUIRED,
          problem.empty()
              ? absl::StrCat("no out-of-band approval record was presented for key ", ShortHex(key))
              : problem);
    }
  }
  return v1::Refusal();
}

absl::StatusOr<v1::SignCheckpointResponse> VouchingSigner::SignCheckpoint(
    const v1::SignCheckpointRequest& request) {
  const v1::CheckpointBody& asked = request.checkpoint();
  RETURN_IF_ERROR(RefuseUnknownFields(request, "the checkpoint request"));
  if (!asked.va_id().empty()) {
    return absl::InvalidArgumentError("the signer names its own VA id; the request must not");
  }
  if (asked.log_shard_id().empty() || asked.root_hash().size() != 32) {
    return absl::InvalidArgumentError("a checkpoint needs a shard id and a 32-byte root hash");
  }
  absl::Time stamped = absl::FromUnixMillis(asked.timestamp_unix_milliseconds());
  if (absl::AbsDuration(clock_.Now() - stamped) > absl::Minutes(5)) {
    return absl::InvalidArgumentError("the checkpoint time is more than 5 minutes from now");
  }
  if (request.consistency_proof_size() > 64) {
    return absl::InvalidArgumentError("a consistency proof has at most 64 hashes");
  }
  if (request.vouched_records_size() > static_cast<int>(SignerLogState::kMaxRecordsPerCheckpoint)) {
    return absl::InvalidArgumentError(absl::StrCat("a checkpoint request carries at most ",
                                                   SignerLogState::kMaxRecordsPerCheckpoint,
                                                   " records"));
  }
  // The note's origin is checked before the tree is accepted, so that a tree is never recorded as
  // signed without its note.
  std::string origin;
  if (!config_.log_origin_prefix().empty()) {
    origin = absl::StrCat(config_.log_origin_prefix(), "/", asked.log_shard_id());
    absl::Status name = CheckNoteKeyName(origin);
    if (!name.ok()) {
      return Annotate(
          name, absl::StrCat("the checkpoint note origin of shard \"", asked.log_shard_id(), "\""));
    }
  }
  v1::SignCheckpointResponse response;
  SignerLogState::CheckpointShortfall shortfall;
  absl::Status advanced =
      config_.logged_vouching_data()
          ? AdvanceLogged(request, &shortfall)
          : log_state_.AdvanceCheckpoint(
                asked.log_shard_id(), asked.tree_size(), asked.root_hash(),
                asked.timestamp_unix_milliseconds(), request.previous_tree_size(),
                {request.consistency_proof().begin(), request.consistency_proof().end()},
                {request.vouched_records().begin(), request.vouched_records().end()}, &shortfall);
  if (advanced.code() == absl::StatusCode::kAborted) {
    response.set_signer_tree_size(shortfall.signer_tree_size);
    response.set_previous_tree_size_mismatch(shortfall.previous_tree_size_mismatch);
    for (uint64_t index : shortfall.records_needed) response.add_records_needed(index);
    for (const v1::SignerVouchedEntry& entry : shortfall.unrecorded) {
      *response.add_unrecorded_vouching_data() = VouchingDataOf(entry);
    }
    return response;
  }
  if (!advanced.ok()) {
    MECAI_LOG_EVENT(Warning, "signing_refused")
        << "refused to sign a checkpoint: " << advanced.message();
    return advanced;
  }
  // Field by field: the signed body holds exactly these five values.
  v1::CheckpointBody body;
  body.set_log_shard_id(asked.log_shard_id());
  body.set_tree_size(asked.tree_size());
  body.set_root_hash(asked.root_hash());
  body.set_timestamp_unix_milliseconds(asked.timestamp_unix_milliseconds());
  body.set_va_id(config_.va_id());
  v1::SignedCheckpoint* signed_checkpoint = response.mutable_checkpoint();
  signed_checkpoint->set_tbs(body.SerializeAsString());
  if (config_.logged_vouching_data()) {
    // One HSM signature per tree head: the note. The endorsement was signed once.
    ASSIGN_OR_RETURN(*signed_checkpoint->mutable_log_key_endorsement(), LogKeyEndorsement());
  } else {
    ASSIGN_OR_RETURN(
        *signed_checkpoint->mutable_signature(),
        SignTimed(log_key_, SignedObject::kCheckpoint, signed_checkpoint->tbs(), "checkpoint"));
  }
  for (const std::string& der : va_chain_der_) {
    signed_checkpoint->add_va_certificate_chain_der(der);
  }
  if (!origin.empty()) {
    // The same tree head the log state just accepted: its size and root, nothing the caller sent
    // besides them.
    ASSIGN_OR_RETURN(*signed_checkpoint->mutable_note(),
                     SignCheckpointNote(origin, body.tree_size(), body.root_hash()));
  }
  response.set_signer_tree_size(asked.tree_size());
  return response;
}

absl::Status VouchingSigner::AdvanceLogged(const v1::SignCheckpointRequest& request,
                                           SignerLogState::CheckpointShortfall* shortfall) {
  // The proof-based form is for signed VDs; a logged signer sees every entry itself.
  if (!request.consistency_proof().empty() || !request.vouched_records().empty()) {
    return absl::InvalidArgumentError(
        "this signer proves VDs by the log (logged_vouching_data): a checkpoint request carries "
        "the entries and the previous compact range, not a consistency proof or records");
  }
  const v1::CheckpointBody& asked = request.checkpoint();
  return log_state_.AdvanceLoggedCheckpoint(
      asked.log_shard_id(), asked.tree_size(), asked.root_hash(),
      asked.timestamp_unix_milliseconds(), request.previous_tree_size(),
      {request.previous_compact_range().begin(), request.previous_compact_range().end()},
      {request.entries().begin(), request.entries().end()}, shortfall);
}

absl::StatusOr<v1::SignedLogKeyEndorsement> VouchingSigner::LogKeyEndorsement() {
  absl::MutexLock lock(&mutex_);
  if (endorsement_.has_value()) return *endorsement_;
  if (log_public_key_ == nullptr) {
    return absl::FailedPreconditionError("logged VDs need the Ed25519 log public key");
  }
  size_t length = 32;
  std::string raw(length, '\0');
  if (EVP_PKEY_get_raw_public_key(log_public_key_, reinterpret_cast<unsigned char*>(raw.data()),
                                  &length) != 1 ||
      length != 32) {
    return absl::FailedPreconditionError("the log key is not an Ed25519 key");
  }
  // Field by field: the endorsement says exactly these four things.
  v1::LogKeyEndorsement body;
  body.set_va_id(config_.va_id());
  body.set_log_origin_prefix(config_.log_origin_prefix());
  body.set_log_public_key(raw);
  body.set_endorsed_at_unix_seconds(absl::ToUnixSeconds(clock_.Now()));
  v1::SignedLogKeyEndorsement endorsement;
  endorsement.set_tbs(body.SerializeAsString());
  ASSIGN_OR_RETURN(*endorsement.mutable_signature(),
                   SignTimed(va_key_, SignedObject::kLogKeyEndorsement, endorsement.tbs(),
                             "log_key_endorsement"));
  endorsement_ = endorsement;
  return endorsement;
}

absl::StatusOr<std::string> VouchingSigner::SignCheckpointNote(const std::string& origin,
                                                               uint64_t tree_size,
                                                               const std::string& root_hash) {
  if (log_public_key_ == nullptr) {
    return absl::FailedPreconditionError(
        "log_origin_prefix is set but the signer was given no Ed25519 log public key");
  }
  ASSIGN_OR_RETURN(NoteVerifierKey key, Ed25519VerifierKey(origin, log_public_key_));
  TlogCheckpoint checkpoint;
  checkpoint.origin = origin;
  checkpoint.tree_size = tree_size;
  checkpoint.root_hash = root_hash;
  ASSIGN_OR_RETURN(std::string text, FormatCheckpointText(checkpoint));
  const absl::Time started = absl::Now();
  ASSIGN_OR_RETURN(NoteSignature signature, SignNoteText(text, key, log_key_));
  if (metrics_ != nullptr) {
    metrics_->RecordSignature("checkpoint_note", absl::ToDoubleSeconds(absl::Now() - started));
  }
  return FormatSignedNote(text, {signature});
}

}  // namespace mecai
