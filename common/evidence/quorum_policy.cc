#include "common/evidence/quorum_policy.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/evidence/refusal.h"
#include "common/rpc/grpc_channel.h"

namespace mecai {
namespace {

// True when a query of the agent's resolver got no answer about the name: the nameserver failed
// (SERVFAIL, REFUSED), did not answer in time, or answered garbage. NXDOMAIN and NODATA are
// answers (RFC 2308); NOT_ASKED (a literal IP address) and UNSPECIFIED (a resolver that does not
// report each query) say nothing about a failure.
bool QueryFailed(v1::ResolutionOutcome outcome) {
  switch (outcome) {
    case v1::RESOLUTION_SERVFAIL:
    case v1::RESOLUTION_REFUSED:
    case v1::RESOLUTION_TIMEOUT:
    case v1::RESOLUTION_ERROR:
      return true;
    default:
      return false;
  }
}

// True when `vouched` names `leaf_sha256` as a certificate of `key_type`: what the handshake
// asking for `key_type` must have been shown. A handshake that asked for no key type (the default
// offer) may have been shown any certificate the VR names; it is no handshake for a key type.
bool Vouches(const std::vector<VouchedCertificate>& vouched, v1::CertificateKeyType key_type,
             const std::string& leaf_sha256) {
  return std::any_of(vouched.begin(), vouched.end(), [&](const VouchedCertificate& certificate) {
    return certificate.sha256 == leaf_sha256 &&
           (key_type == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED || certificate.key_type == key_type);
  });
}

// What a handshake asked for, for sentences: "asking for a certificate with an RSA key".
std::string Asking(v1::CertificateKeyType key_type) {
  return absl::StrCat("asking for a certificate with an ", KeyTypeName(key_type), " key");
}

// Judges one perspective: REFUSAL_REASON_UNSPECIFIED when it agrees.
v1::RefusalReason Judge(const PerspectiveOutcome& outcome,
                        const std::vector<VouchedCertificate>& vouched, std::string* detail) {
  switch (outcome.kind) {
    case PerspectiveOutcome::Kind::kUnreachable:
      *detail = absl::StrCat("no answer: ", outcome.failure);
      return v1::PERSPECTIVE_TIMEOUT;
    case PerspectiveOutcome::Kind::kInvalid:
      *detail = outcome.failure;
      return v1::INVALID_OBSERVATION;
    case PerspectiveOutcome::Kind::kCancelled:
      *detail = outcome.failure;
      return v1::REFUSAL_REASON_UNSPECIFIED;
    case PerspectiveOutcome::Kind::kObserved:
      break;
  }
  const v1::ObservationBody& body = outcome.body;
  if (body.addresses().empty()) {
    *detail = body.resolution_error().empty()
                  ? "the name resolved to no address"
                  : absl::StrCat("could not resolve: ", body.resolution_error());
    return v1::RESOLUTION_FAILED;
  }
  // A mismatch anywhere outranks every other failure of the same perspective: a handshake that
  // asked for a key type must have been shown a certificate of that type the VR names.
  for (const v1::AddressObservation& address : body.addresses()) {
    if (address.outcome() != v1::PROBE_OK ||
        Vouches(vouched, address.requested_key_type(), address.leaf_sha256())) {
      continue;
    }
    const v1::CertificateKeyType asked = address.requested_key_type();
    *detail = absl::StrCat(
        "saw certificate ", ShortHex(address.leaf_sha256()), " at ", address.address(),
        Vouches(vouched, v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED, address.leaf_sha256())
            ? ", which the VR names as a certificate of another key type"
            : ", which the VR does not name",
        asked == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED ? std::string()
                                                      : absl::StrCat(" (", Asking(asked), ")"));
    return v1::CERTIFICATE_MISMATCH;
  }
  // Every address was asked for every key type of the VR: one handshake each (docs/PROTOCOL.md
  // "Key-typed handshakes"). An Observation without them says nothing about the VR's certificate
  // of that type.
  std::vector<std::string> addresses;
  for (const v1::AddressObservation& address : body.addresses()) {
    if (std::find(addresses.begin(), addresses.end(), address.address()) == addresses.end()) {
      addresses.push_back(address.address());
    }
  }
  for (const std::string& address : addresses) {
    for (const VouchedCertificate& certificate : vouched) {
      const bool asked =
          std::any_of(body.addresses().begin(), body.addresses().end(),
                      [&](const v1::AddressObservation& handshake) {
                        return handshake.address() == address &&
                               handshake.requested_key_type() == certificate.key_type;
                      });
      if (!asked) {
        *detail = absl::StrCat("made no handshake ", Asking(certificate.key_type), " at ", address);
        return v1::INVALID_OBSERVATION;
      }
    }
  }
  // "Every address it resolved" means every address of both families: when one query failed,
  // the other family's addresses alone may be the ones an attacker chose (by dropping or spoiling
  // the answers of the family that leads to the real server).
  for (const auto& [query, outcome] :
       {std::make_pair("A", body.a_resolution()), std::make_pair("AAAA", body.aaaa_resolution())}) {
    if (QueryFailed(outcome)) {
      *detail = absl::StrCat("the ", query, " query failed (", v1::ResolutionOutcome_Name(outcome),
                             "); the addresses of the other family alone are not every address "
                             "of the name");
      return v1::RESOLUTION_FAILED;
    }
  }
  bool all_forbidden = true;
  for (const v1::AddressObservation& address : body.addresses()) {
    if (address.outcome() != v1::PROBE_FORBIDDEN_ADDRESS) all_forbidden = false;
  }
  if (all_forbidden) {
    *detail = "every resolved address is a special-purpose address this agent may not contact";
    return v1::FORBIDDEN_ADDRESS;
  }
  for (const v1::AddressObservation& address : body.addresses()) {
    if (address.outcome() != v1::PROBE_OK) {
      *detail = absl::StrCat(v1::ProbeOutcome_Name(address.outcome()), " at ", address.address(),
                             ": ", address.error());
      return v1::HANDSHAKE_FAILED;
    }
  }
  std::set<v1::CertificateKeyType> key_types;
  for (const VouchedCertificate& certificate : vouched) key_types.insert(certificate.key_type);
  const std::string seen = key_types.size() > 1
                               ? absl::StrCat("saw a vouched certificate of each of the VR's ",
                                              key_types.size(), " key types")
                               : std::string("saw a vouched certificate");
  *detail = addresses.size() == 1 ? absl::StrCat(seen, " at its one address")
                                  : absl::StrCat(seen, " at all ", addresses.size(), " addresses");
  return v1::REFUSAL_REASON_UNSPECIFIED;
}

}  // namespace

std::vector<v1::Perspective> ValidateAgentEndpoints(
    const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& agents, bool check_peer,
    ConfigErrors* errors) {
  std::set<std::string> ids;
  std::vector<v1::Perspective> perspectives;
  for (int i = 0; i < agents.size(); ++i) {
    const v1::AgentEndpoint& agent = agents.Get(i);
    const std::string field = absl::StrCat("agents[", i, "]");
    errors->Require(!agent.perspective().id().empty(), field + ".perspective.id", "required");
    errors->Require(!agent.perspective().region().empty(), field + ".perspective.region",
                    "required");
    errors->Require(ids.insert(agent.perspective().id()).second, field + ".perspective.id",
                    "duplicate id '" + agent.perspective().id() + "'");
    errors->Require(!agent.public_key_file().empty(), field + ".public_key_file", "required");
    if (check_peer) {
      ValidatePeerConfig(agent.peer(), /*plaintext_allowed=*/true, field + ".peer", errors);
    }
    perspectives.push_back(agent.perspective());
  }
  return perspectives;
}

v1::QuorumPolicy WithPolicyDefaults(v1::QuorumPolicy policy) {
  if (policy.min_perspectives() == 0) policy.set_min_perspectives(3);
  if (policy.min_regions() == 0) policy.set_min_regions(2);
  return policy;
}

void ValidateQuorumPolicy(const v1::QuorumPolicy& policy,
                          const std::vector<v1::Perspective>& perspectives,
                          const std::string& field, ConfigErrors* errors) {
  errors->Require(policy.min_perspectives() >= 3, field + ".min_perspectives",
                  "must be at least 3 (trust rule 3)");
  errors->Require(policy.min_regions() >= 2, field + ".min_regions",
                  "must be at least 2 (trust rule 3)");
  std::set<std::string> regions;
  for (const v1::Perspective& perspective : perspectives) regions.insert(perspective.region());
  const size_t answering = perspectives.size() > policy.max_unreachable()
                               ? perspectives.size() - policy.max_unreachable()
                               : 0;
  errors->Require(
      answering >= policy.min_perspectives(), field,
      absl::StrCat(perspectives.size(), " agents with max_unreachable ", policy.max_unreachable(),
                   " cannot meet min_perspectives ", policy.min_perspectives()));
  errors->Require(regions.size() >= policy.min_regions(), field,
                  absl::StrCat("the agents span ", regions.size(), " regions; min_regions is ",
                               policy.min_regions()));
}

QuorumDecision DecideQuorum(const std::vector<PerspectiveOutcome>& outcomes,
                            const std::vector<VouchedCertificate>& vouched,
                            const v1::QuorumPolicy& configured_policy) {
  // Trust rule 3's floors hold whatever the configuration says.
  v1::QuorumPolicy policy = WithPolicyDefaults(configured_policy);
  policy.set_min_perspectives(std::max<uint32_t>(policy.min_perspectives(), 3));
  policy.set_min_regions(std::max<uint32_t>(policy.min_regions(), 2));
  QuorumDecision decision;
  std::vector<v1::RefusalReason> reasons;
  std::set<std::string> agreeing_regions;
  size_t unreachable = 0;
  for (const PerspectiveOutcome& outcome : outcomes) {
    std::string detail;
    v1::RefusalReason reason = Judge(outcome, vouched, &detail);
    v1::PerspectiveResult result;
    *result.mutable_perspective() = outcome.perspective;
    result.set_disagreement(reason);
    result.set_detail(detail);
    decision.results.push_back(result);
    reasons.push_back(reason);
    if (reason == v1::PERSPECTIVE_TIMEOUT) ++unreachable;
    if (outcome.kind == PerspectiveOutcome::Kind::kCancelled) continue;
    if (reason == v1::REFUSAL_REASON_UNSPECIFIED) {
      decision.agreeing.push_back(outcome.perspective);
      agreeing_regions.insert(outcome.perspective.region());
      int64_t started = outcome.body.started_at_unix_milliseconds();
      if (decision.earliest_probe_unix_milliseconds == 0 ||
          started < decision.earliest_probe_unix_milliseconds) {
        decision.earliest_probe_unix_milliseconds = started;
      }
    }
  }
  // The first row of the table (see the header) that any perspective hits decides.
  for (v1::RefusalReason row :
       {v1::CERTIFICATE_MISMATCH, v1::INVALID_OBSERVATION, v1::RESOLUTION_FAILED,
        v1::HANDSHAKE_FAILED, v1::FORBIDDEN_ADDRESS}) {
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (reasons[i] != row) continue;
      decision.refusal = MakeRefusal(
          row, absl::StrCat("perspective ", outcomes[i].perspective.id(), " (",
                            outcomes[i].perspective.region(), ") ", decision.results[i].detail()));
      return decision;
    }
  }
  if (unreachable > policy.max_unreachable()) {
    decision.refusal =
        MakeRefusal(v1::PERSPECTIVE_TIMEOUT,
                    absl::StrCat(unreachable, " of ", outcomes.size(),
                                 " perspectives did not answer in time; the policy allows ",
                                 policy.max_unreachable()));
    return decision;
  }
  if (decision.agreeing.size() < policy.min_perspectives() ||
      agreeing_regions.size() < policy.min_regions()) {
    decision.refusal =
        MakeRefusal(v1::INSUFFICIENT_PERSPECTIVES,
                    absl::StrCat(decision.agreeing.size(), " perspectives in ",
                                 agreeing_regions.size(), " regions agreed; the policy needs ",
                                 policy.min_perspectives(), " in ", policy.min_regions()));
  }
  return decision;
}

}  // namespace mecai
