// What the Observation fuzz target and the generator of its seed corpus agree on: the enrolled
// agent and the VR every seed Observation is bound to.
#ifndef MECAI_FUZZ_OBSERVATION_EXPECTATION_H_
#define MECAI_FUZZ_OBSERVATION_EXPECTATION_H_

#include "common/crypto/hashing.h"
#include "common/evidence/enrolled_agents.h"
#include "fuzz/embedded_file.h"

namespace mecai {
namespace fuzz {

inline constexpr char kFuzzAgentId[] = "fuzz-agent";
inline constexpr char kFuzzAgentRegion[] = "fuzz-region";

inline ObservationExpectation FuzzObservationExpectation() {
  ObservationExpectation expected;
  expected.request_sha256 = Sha256("the serialized VouchingRequest");
  expected.nonce = "0123456789abcdef";
  expected.hostname = "www.example.test";
  expected.port = 443;
  expected.now = FuzzNow();
  return expected;
}

}  // namespace fuzz
}  // namespace mecai

#endif  // MECAI_FUZZ_OBSERVATION_EXPECTATION_H_
