// The probe agents a coordinator or signer accepts Observations from, and the check that binds a
// signed Observation to one VR (ARCHITECTURE.md §1 signer: "every Observation signed by an enrolled
// agent key, fresh, bound to this VR").
#ifndef MECAI_COMMON_EVIDENCE_ENROLLED_AGENTS_H_
#define MECAI_COMMON_EVIDENCE_ENROLLED_AGENTS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/evidence/vouching_request.h"
#include "google/protobuf/repeated_field.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {

// How many random bytes a probe round's nonce has (proto/mecai/v1/probe.proto ProbeTask.nonce): the
// probe agent refuses a ProbeTask outside these bounds, the signer a request whose probe nonce is.
inline constexpr size_t kMinProbeNonceBytes = 16;
inline constexpr size_t kMaxProbeNonceBytes = 64;

// What an Observation must be bound to.
struct ObservationExpectation {
  std::string request_sha256;
  std::string nonce;
  std::string hostname;
  uint32_t port = 0;
  // The key types every address was asked for (ProbeKeyTypes of the VR; docs/PROTOCOL.md
  // "Key-typed handshakes").
  std::vector<v1::CertificateKeyType> certificate_key_types;
  absl::Time now;
  // Oldest acceptable finish time is now - max_age; none may lie more than max_age in the future.
  absl::Duration max_age = absl::Seconds(120);
};

// What an Observation made for `request` in the probe round of `nonce` must be bound to: the VR's
// digest, that nonce, the VR's hostname and port, the key types of its certificates, and a finish
// time within `max_age` of `now`. The
// coordinator builds it before probing and the signer again from the request it is asked to sign,
// so both bind Observations alike (ARCHITECTURE.md §1 signer).
ObservationExpectation ExpectationFor(const VerifiedVouchingRequest& request,
                                      const std::string& nonce, absl::Time now,
                                      absl::Duration max_age);

// Immutable after Load. Thread-safe.
class EnrolledAgents {
 public:
  // Loads each agent's public key. Duplicate ids, empty ids or regions and unreadable keys are
  // errors.
  static absl::StatusOr<std::unique_ptr<EnrolledAgents>> Load(
      const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& agents);

  const std::vector<v1::Perspective>& perspectives() const { return perspectives_; }
  size_t size() const { return perspectives_.size(); }

  // Verifies the agent signature of `observation` with the key enrolled for `perspective_id`,
  // then parses it and checks it names that perspective and matches `expected`: among others, its
  // certificate_key_types are exactly the expected ones and every handshake asked for one of them.
  // Errors are INVALID_ARGUMENT sentences suitable for a PerspectiveResult's detail.
  absl::StatusOr<v1::ObservationBody> Verify(const std::string& perspective_id,
                                             const v1::SignedObservation& observation,
                                             const ObservationExpectation& expected) const;

  // Identifies the signer of `observation` among all enrolled agents, then verifies as above.
  absl::StatusOr<v1::ObservationBody> VerifyFromAnyAgent(
      const v1::SignedObservation& observation, const ObservationExpectation& expected) const;

 private:
  struct Agent {
    v1::Perspective perspective;
    EvpPkeyPtr public_key;
  };
  EnrolledAgents() = default;
  std::map<std::string, Agent> agents_;
  std::vector<v1::Perspective> perspectives_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_ENROLLED_AGENTS_H_
