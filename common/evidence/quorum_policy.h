// The quorum policy (trust rule 3), a pure function shared by the coordinator and the signer.
#ifndef MECAI_COMMON_EVIDENCE_QUORUM_POLICY_H_
#define MECAI_COMMON_EVIDENCE_QUORUM_POLICY_H_

#include <string>
#include <vector>

#include "common/base/config_loader.h"
#include "common/evidence/vouching_request.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// What became of one configured perspective.
struct PerspectiveOutcome {
  enum class Kind {
    kObserved,     // A valid, verified Observation arrived; see `body`.
    kUnreachable,  // The agent did not answer before the deadline (or the call failed).
    kInvalid,      // An answer arrived but did not verify; see `failure`.
    kCancelled,    // Not awaited: another perspective's mismatch had decided the outcome.
  };
  v1::Perspective perspective;  // As configured.
  Kind kind = Kind::kUnreachable;
  v1::ObservationBody body;
  std::string failure;
};

struct QuorumDecision {
  // REFUSAL_REASON_UNSPECIFIED when the VR may be vouched for.
  v1::Refusal refusal;
  // One per outcome, same order: the perspective, its disagreement (if any) and a sentence.
  std::vector<v1::PerspectiveResult> results;
  // The perspectives that agreed.
  std::vector<v1::Perspective> agreeing;
  // Earliest probe start among agreeing perspectives, Unix milliseconds (0 if none).
  int64_t earliest_probe_unix_milliseconds = 0;
  bool issued() const { return refusal.reason() == v1::REFUSAL_REASON_UNSPECIFIED; }
};

// Applies the policy. The table (first matching row wins):
//
//   any perspective saw a certificate the VR does not name, or a
//     handshake asking for one key type saw a certificate the VR
//     does not name for that key type ............................. CERTIFICATE_MISMATCH (always)
//   any Observation failed verification, or lacks at some address
//     the handshake for a key type of the VR ....................... INVALID_OBSERVATION
//   any perspective could not resolve the name, or its A or AAAA
//     query failed (SERVFAIL, REFUSED, timeout, error) ............. RESOLUTION_FAILED
//   any address refused TCP or TLS ................................. HANDSHAKE_FAILED
//   any perspective found only forbidden addresses ................. FORBIDDEN_ADDRESS
//   more perspectives timed out than max_unreachable ............... PERSPECTIVE_TIMEOUT
//   fewer than min_perspectives agree, or fewer than min_regions ... INSUFFICIENT_PERSPECTIVES
//   otherwise ...................................................... issue
//
// A kCancelled perspective neither agrees nor counts as unreachable; it only occurs next to a
// mismatch, which decides. Unanimity: a perspective agrees only when it resolved at least one
// address, neither its A nor its AAAA query failed (NXDOMAIN or NODATA for one family is an answer,
// not a failure), and at every address, for every key type of `vouched` (one, or two during a
// rollover from one key type to another), the handshake asking for that key type
// (AddressObservation.requested_key_type) completed and presented a certificate of `vouched` of
// that key type (docs/PROTOCOL.md "Key-typed handshakes"). Two vouched certificates of one key type
// (a rollover) are each accepted where the other is.
QuorumDecision DecideQuorum(const std::vector<PerspectiveOutcome>& outcomes,
                            const std::vector<VouchedCertificate>& vouched,
                            const v1::QuorumPolicy& policy);

// Checks every configured AgentEndpoint (id and region set, ids unique, a public key file, and
// the peer when `check_peer`) and returns their perspectives, in order.
std::vector<v1::Perspective> ValidateAgentEndpoints(
    const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& agents, bool check_peer,
    ConfigErrors* errors);

// The policy with defaults applied (min_perspectives 3, min_regions 2, max_unreachable 0).
v1::QuorumPolicy WithPolicyDefaults(v1::QuorumPolicy policy);

// Checks a policy against the configured perspectives: min_perspectives ≥ 3, min_regions ≥ 2, and
// the configured agents can satisfy both even with max_unreachable of them silent.
void ValidateQuorumPolicy(const v1::QuorumPolicy& policy,
                          const std::vector<v1::Perspective>& perspectives,
                          const std::string& field, ConfigErrors* errors);

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_QUORUM_POLICY_H_
