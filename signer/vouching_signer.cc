#include "signer/vouching_signer.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/approval_record.h"
#include "common/hashing.h"
#include "common/logging.h"
#include "common/quorum_policy.h"
#include "common/refusal.h"
#include "common/revocation.h"
#include "common/status.h"

namespace mecai {
namespace {

v1::SignVouchingResponse Refuse(v1::RefusalReason reason, std::string explanation) {
  v1::SignVouchingResponse response;
  *response.mutable_refusal() = MakeRefusal(reason, std::move(explanation));
  return response;
}

}  // namespace

VouchingSigner::VouchingSigner(const v1::SignerConfig& config,
                               std::vector<std::string> va_chain_der, SigningKey& va_key,
                               const EnrolledAgents& agents, const TrustLists& trust_lists,
                               const Clock& clock, SignerMetrics* metrics, EVP_PKEY* approval_key)
    : config_(config),
      va_chain_der_(std::move(va_chain_der)),
      limits_([&config] {
        VouchingRequestLimits limits;
        limits.freshness_window = absl::Seconds(config.freshness_window_seconds());
        return limits;
      }()),
      va_key_(va_key),
      agents_(agents),
      trust_lists_(trust_lists),
      clock_(clock),
      metrics_(metrics),
      approval_key_(approval_key) {}

absl::StatusOr<v1::Signature> VouchingSigner::SignWithVaKey(absl::string_view data,
                                                            const char* kind) {
  const absl::Time started = absl::Now();
  absl::StatusOr<v1::Signature> signature = va_key_.Sign(data);
  if (signature.ok() && metrics_ != nullptr) {
    metrics_->RecordSignature(kind, absl::ToDoubleSeconds(absl::Now() - started));
  }
  return signature;
}

absl::StatusOr<v1::SignVouchingResponse> VouchingSigner::SignVouching(
    const v1::SignVouchingRequest& request) {
  absl::StatusOr<v1::SignVouchingResponse> response = CheckAndSign(request);
  if (response.ok() && response->has_refusal()) {
    MECAI_LOG(Warning) << "refused to sign: "
                       << v1::RefusalReason_Name(response->refusal().reason()) << ": "
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
  if (!check.accepted()) {
    v1::SignVouchingResponse response;
    *response.mutable_refusal() = check.refusal;
    return response;
  }
  const VerifiedVouchingRequest& vr = check.request;
  // probe.proto ProbeTask.nonce: 16..64 random bytes. A field of this request, not of an
  // Observation: out of range is a malformed request.
  if (request.probe_nonce().size() < 16 || request.probe_nonce().size() > 64) {
    return Refuse(v1::MALFORMED_REQUEST,
                  absl::StrCat("the probe nonce must have 16 to 64 bytes; it has ",
                               request.probe_nonce().size()));
  }
  if (request.log_shard_id().empty()) {
    return Refuse(v1::MALFORMED_REQUEST, "the log shard id is missing");
  }

  // Every Observation: signed by an enrolled agent, bound to this VR and probe round, fresh.
  ObservationExpectation expected;
  expected.request_sha256 = vr.request_sha256;
  expected.nonce = request.probe_nonce();
  expected.hostname = vr.body.hostname();
  expected.port = vr.body.port();
  expected.now = now;
  expected.max_age = absl::Seconds(config_.observation_max_age_seconds());
  std::map<std::string, v1::ObservationBody> by_perspective;
  for (const v1::SignedObservation& observation : request.observations()) {
    auto body = agents_.VerifyFromAnyAgent(observation, expected);
    if (!body.ok()) return Refuse(v1::INVALID_OBSERVATION, std::string(body.status().message()));
    const std::string id = body->perspective().id();
    if (!by_perspective.emplace(id, std::move(*body)).second) {
      return Refuse(v1::INVALID_OBSERVATION,
                    absl::StrCat("two Observations from perspective '", id, "'"));
    }
  }
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
  QuorumDecision decision = DecideQuorum(outcomes, vr.leaf_sha256, config_.policy());
  if (!decision.issued()) {
    v1::SignVouchingResponse response;
    *response.mutable_refusal() = decision.refusal;
    return response;
  }

  // The revocation evidence itself (the CRL or OCSP response) must verify now for every vouched
  // certificate, under the rule the coordinator applies (common/revocation.h
  // CombineRevocationVerdicts): revoked anywhere refuses; every source the certificate names must
  // say good, recently enough. The time the VD states is the one the CA signed into the evidence.
  RevocationLimits revocation_limits;
  if (config_.revocation_evidence_max_age_seconds() > 0) {
    revocation_limits.max_evidence_age =
        absl::Seconds(config_.revocation_evidence_max_age_seconds());
  }
  const RevocationJudgement revocation = JudgeRevocationOfEveryCertificate(
      request.revocation(), vr.validated_paths, now, revocation_limits);
  if (!revocation.good()) return Refuse(revocation.reason, revocation.explanation);
  const int64_t revocation_checked_at = absl::ToUnixSeconds(revocation.ca_signed_at);
  const v1::RevocationSource revocation_source = revocation.source;

  // DESIGN §7: out-of-band approval, checked from the approval service's own signature.
  const bool approval_required = trust_lists_.RequiresIssuanceApproval(vr.body.trust_list());
  if (approval_required) {
    v1::Refusal refusal = CheckApproval(request, vr, now);
    if (!IsAccepted(refusal)) {
      v1::SignVouchingResponse response;
      *response.mutable_refusal() = std::move(refusal);
      return response;
    }
  }

  // DESIGN §4: the statement carries hashes, not certificates.
  v1::VouchingStatement statement;
  statement.set_version(1);
  statement.set_va_id(config_.va_id());
  statement.set_trust_list(vr.body.trust_list());
  statement.set_hostname(vr.body.hostname());
  statement.set_port(vr.body.port());
  for (const std::string& sha256 : vr.leaf_sha256) statement.add_certificate_sha256(sha256);
  statement.set_probed_at_unix_seconds(decision.earliest_probe_unix_milliseconds / 1000);
  statement.set_revocation_checked_at_unix_seconds(revocation_checked_at);
  statement.set_revocation_source(revocation_source);
  for (const v1::Perspective& perspective : decision.agreeing) {
    *statement.add_perspectives() = perspective;
  }
  statement.set_log_index(request.log_index());
  statement.set_log_shard_id(request.log_shard_id());
  statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(now));
  statement.set_issuance_approved_out_of_band(approval_required);

  v1::SignVouchingResponse response;
  v1::VouchingData* vd = response.mutable_vouching_data();
  vd->set_statement(statement.SerializeAsString());
  ASSIGN_OR_RETURN(*vd->mutable_signature(), SignWithVaKey(vd->statement(), "vouching_data"));
  for (const std::string& der : va_chain_der_) vd->add_va_certificate_chain_der(der);
  MECAI_LOG(Info) << "signed VD for " << vr.body.hostname() << ":" << vr.body.port()
                  << " at log index " << request.log_index() << " of " << request.log_shard_id();
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

absl::StatusOr<v1::SignedCheckpoint> VouchingSigner::SignCheckpoint(
    const v1::CheckpointBody& checkpoint) {
  if (checkpoint.log_shard_id().empty() || checkpoint.root_hash().size() != 32) {
    return absl::InvalidArgumentError("a checkpoint needs a shard id and a 32-byte root hash");
  }
  absl::Time stamped = absl::FromUnixMillis(checkpoint.timestamp_unix_milliseconds());
  if (absl::AbsDuration(clock_.Now() - stamped) > absl::Minutes(5)) {
    return absl::InvalidArgumentError("the checkpoint time is more than 5 minutes from now");
  }
  v1::CheckpointBody body = checkpoint;
  body.set_va_id(config_.va_id());
  v1::SignedCheckpoint signed_checkpoint;
  signed_checkpoint.set_tbs(body.SerializeAsString());
  ASSIGN_OR_RETURN(*signed_checkpoint.mutable_signature(),
                   SignWithVaKey(signed_checkpoint.tbs(), "checkpoint"));
  for (const std::string& der : va_chain_der_) signed_checkpoint.add_va_certificate_chain_der(der);
  return signed_checkpoint;
}

}  // namespace mecai
