// The signer's decision: re-check the whole evidence independently, and only then sign a
// VouchingStatement with the VA key (ARCHITECTURE.md §1 signer; MECAI proposal: the VD "carries a
// digital signature issued by the VA, including the VA certificate used for creating the
// signature").
#ifndef MECAI_SIGNER_VOUCHING_SIGNER_H_
#define MECAI_SIGNER_VOUCHING_SIGNER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/quorum_policy.h"
#include "common/evidence/trust_lists.h"
#include "common/evidence/vouching_request.h"
#include "common/revocation/parsed_crl_cache.h"
#include "common/revocation/revocation.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.pb.h"
#include "signer/evidence_cache.h"
#include "signer/log_state.h"
#include "signer/signer_metrics.h"

namespace mecai {

// Thread-safe (the SigningKey is). Every dependency must outlive it.
class VouchingSigner {
 public:
  // The two keys in the HSM: `va_key` (the key the VA certificate certifies) signs VD statements
  // only, `log_key` signs checkpoints only (docs/VOUCHING_DATA.md "Keys").
  struct Keys {
    SigningKey& va_key;
    SigningKey& log_key;
    // The log key's public half: Ed25519, required when config.log_origin_prefix() is set (the
    // checkpoint note's key ID is computed from it, c2sp.org/signed-note).
    EVP_PKEY* log_public_key = nullptr;
  };

  // `config` must have passed ValidateSignerConfig; `va_chain_der` is the VA certificate first.
  // `log_state` is the signer's durable memory of each log shard. `approval_key` verifies the
  // approval service's signed records (SignerConfig.approval_public_key_file); null refuses every
  // VR of a trust list that requires approval. `evidence_cache` holds the revocation responses
  // requests may name by hash (ARCHITECTURE.md §8 "Evidence by content hash"); null: evidence
  // named by hash alone is unusable.
  VouchingSigner(const v1::SignerConfig& config, std::vector<std::string> va_chain_der, Keys keys,
                 SignerLogState& log_state, const EnrolledAgents& agents,
                 const TrustLists& trust_lists, const Clock& clock,
                 SignerMetrics* metrics = nullptr, EVP_PKEY* approval_key = nullptr,
                 EvidenceCache* evidence_cache = nullptr);

  // Signs a VD only when the evidence proves unanimity for a valid VR; otherwise the response
  // carries the refusal of the first failed check, log_index_taken for a log index another VD
  // took since the last checkpoint, or evidence_needed (nothing signed, nothing journaled) when the
  // revocation evidence names by hash responses the evidence cache does not hold. Errors for faults
  // (the HSM or the journal failed) and FAILED_PRECONDITION for a log index that a signed
  // checkpoint covers or that was asked for again while its VD was signed.
  absl::StatusOr<v1::SignVouchingResponse> SignVouching(const v1::SignVouchingRequest& request);

  // Signs a log checkpoint with the log key, building the signed body itself from the request's
  // shard, size, root and time. INVALID_ARGUMENT for an impossible one (empty shard, root not 32
  // bytes, time more than 5 minutes from now, any other field set, known or not);
  // FAILED_PRECONDITION for a tree that is not proven to extend the last one this signer signed
  // for the shard, or that does not hold, at the index of each VD signed since, a record carrying
  // it (docs/SECURITY.md T7). When previous_tree_size is not the signer's last size, the response
  // carries no checkpoint and says the size to prove consistency from; when records of such VDs
  // are missing, it names their indices. With config.log_origin_prefix() the checkpoint also
  // carries the same tree head as a C2SP checkpoint note (SignedCheckpoint.note), signed by the log
  // key; a shard id that cannot be part of a note key name is then INVALID_ARGUMENT.
  absl::StatusOr<v1::SignCheckpointResponse> SignCheckpoint(
      const v1::SignCheckpointRequest& request);

 private:
  // The steps of SignVouching, in order; the first refusal ends it. Each step's refusal is empty
  // (IsAccepted) when it found nothing wrong.
  absl::StatusOr<v1::SignVouchingResponse> CheckAndSign(const v1::SignVouchingRequest& request);
  // The fields that bind the request to one probe round and one log shard: a probe nonce of
  // kMinProbeNonceBytes..kMaxProbeNonceBytes and a shard id; MALFORMED_REQUEST otherwise.
  static v1::Refusal CheckRoundFields(const v1::SignVouchingRequest& request);
  // Verifies every Observation of `request` against the enrolled agents, bound to `vr` and the
  // probe round, fresh at `now` (ExpectationFor), and collects them by perspective id into
  // `by_perspective`; INVALID_OBSERVATION for the first that is not, or a second one from a
  // perspective.
  v1::Refusal VerifyObservations(const v1::SignVouchingRequest& request,
                                 const VerifiedVouchingRequest& vr, absl::Time now,
                                 std::map<std::string, v1::ObservationBody>* by_perspective) const;
  // The quorum policy (common/evidence/quorum_policy.h DecideQuorum) over every enrolled
  // perspective: one without an Observation in `by_perspective` counts as unreachable.
  QuorumDecision DecideOnObservations(
      const std::map<std::string, v1::ObservationBody>& by_perspective,
      const VerifiedVouchingRequest& vr) const;
  // The revocation evidence (the request's, each response named by hash given its bytes from the
  // evidence cache), judged for every vouched certificate of `vr` at `now` within the configured
  // evidence age.
  RevocationJudgement CheckRevocationEvidence(
      const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
      const VerifiedVouchingRequest& vr, absl::Time now) const;
  // ARCHITECTURE.md §7: OK (with an empty refusal) when `request` carries, for the key of every
  // vouched certificate of `vr`, a record signed by the approval service that approves it for the
  // VR's hostname and is fresh; otherwise the APPROVAL_REQUIRED refusal.
  v1::Refusal CheckApproval(const v1::SignVouchingRequest& request,
                            const VerifiedVouchingRequest& vr, absl::Time now) const;
  // Claims the request's log index in `log_state_`: FAILED_PRECONDITION when a signed checkpoint
  // covers it; a claim that is not `claimed` when another VD took it.
  absl::StatusOr<SignerLogState::IndexClaim> ClaimLogIndex(const v1::SignVouchingRequest& request);
  // The answer for an index another VD took, with that VD when it was signed (so that the record
  // abandoned at the index carries it).
  v1::SignVouchingResponse IndexTakenResponse(const SignerLogState::IndexClaim& claim) const;
  // The VD of a journal entry, with the VA chain.
  v1::VouchingData VouchingDataOf(const v1::SignerVouchedEntry& entry) const;
  // The VouchingStatement of a VD for `vr`, from the values the checks above established.
  v1::VouchingStatement StatementFor(const v1::SignVouchingRequest& request,
                                     const VerifiedVouchingRequest& vr,
                                     const QuorumDecision& decision,
                                     const RevocationJudgement& revocation, bool approval_required,
                                     absl::Time now) const;
  // Signs `statement` with the VA key into a VD that carries the VA chain.
  absl::StatusOr<v1::SignVouchingResponse> SignStatement(const v1::VouchingStatement& statement,
                                                         const VerifiedVouchingRequest& vr,
                                                         const v1::SignVouchingRequest& request);
  // The C2SP signed checkpoint note of a tree this signer has just accepted (c2sp.org/
  // tlog-checkpoint), signed by the log key under the key name of its origin.
  absl::StatusOr<std::string> SignCheckpointNote(const std::string& origin, uint64_t tree_size,
                                                 const std::string& root_hash);
  // Logged VDs: the approved statement, journaled (docs/VOUCHING_DATA.md "Logged VDs").
  absl::StatusOr<v1::SignVouchingResponse> ApproveStatement(const v1::VouchingStatement& statement,
                                                            const VerifiedVouchingRequest& vr,
                                                            const v1::SignVouchingRequest& request);
  // Logged VDs: checks the request's entries against the approved statements and advances the log
  // state (SignerLogState::AdvanceLoggedCheckpoint).
  absl::Status AdvanceLogged(const v1::SignCheckpointRequest& request,
                             SignerLogState::CheckpointShortfall* shortfall);
  // The VA key's endorsement of the log key, signed once (the first time it is needed).
  absl::StatusOr<v1::SignedLogKeyEndorsement> LogKeyEndorsement() ABSL_LOCKS_EXCLUDED(mutex_);
  // Signs `bytes` as `kind` with `key`, timing the HSM.
  absl::StatusOr<v1::Signature> SignTimed(SigningKey& key, SignedObject kind,
                                          absl::string_view bytes, const char* metric_kind);

  const v1::SignerConfig config_;
  const std::vector<std::string> va_chain_der_;
  const VouchingRequestLimits limits_;
  SigningKey& va_key_;
  SigningKey& log_key_;
  EVP_PKEY* const log_public_key_;
  SignerLogState& log_state_;
  const EnrolledAgents& agents_;
  const TrustLists& trust_lists_;
  const Clock& clock_;
  SignerMetrics* const metrics_;
  EVP_PKEY* const approval_key_;
  absl::Mutex mutex_;
  std::optional<v1::SignedLogKeyEndorsement> endorsement_ ABSL_GUARDED_BY(mutex_);
  EvidenceCache* const evidence_cache_;
  // The CRLs of the evidence, parsed and verified once (docs/PERFORMANCE.md "A large CA's CRL, end
  // to end"): 128 MiB of memory, about 6 CRLs of a large CA (2.3 MB, 48,000 entries).
  static constexpr size_t kParsedCrlMemoryBytes = size_t{128} << 20;
  mutable ParsedCrlCache parsed_crls_{kParsedCrlMemoryBytes};
};

}  // namespace mecai

#endif  // MECAI_SIGNER_VOUCHING_SIGNER_H_
