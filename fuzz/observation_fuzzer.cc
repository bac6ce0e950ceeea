// Fuzzes Observation verification (common/evidence/enrolled_agents.h), which the coordinator and
// the signer run on what probe agents return: one agent "fuzz-agent" in region "fuzz-region" is
// enrolled with the fixed key fuzz/testdata/agent.pub.pem, and each Observation must be bound to a
// fixed VR hash, nonce, hostname and port at FuzzNow(). The first input byte picks the form:
//   even: the rest is a serialized SignedObservation;
//   odd:  the rest is ObservationBody bytes, which the target signs with the agent's private key
//         (fuzz/testdata/agent.key.pem), so mutations reach the checks behind the signature.
// Both Verify (by perspective id) and VerifyFromAnyAgent run; they must agree.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/enrolled_agents.h"
#include "fuzz/embedded_file.h"
#include "fuzz/observation_expectation.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace fuzz {
extern const EmbeddedFile kObservationFixtures[];
namespace {

struct Fixtures {
  std::unique_ptr<EnrolledAgents> agents;
  std::unique_ptr<InMemorySigningKey> agent_key;
};

const Fixtures& GetFixtures() {
  static const Fixtures* fixtures = [] {
    const std::string directory = WriteEmbeddedFiles(kObservationFixtures);
    google::protobuf::RepeatedPtrField<v1::AgentEndpoint> endpoints;
    v1::AgentEndpoint* endpoint = endpoints.Add();
    endpoint->mutable_perspective()->set_id(kFuzzAgentId);
    endpoint->mutable_perspective()->set_region(kFuzzAgentRegion);
    endpoint->set_public_key_file(directory + "/agent.pub.pem");
    auto agents = EnrolledAgents::Load(endpoints);
    auto key = ParsePemPrivateKey(EmbeddedContents(kObservationFixtures, "agent.key.pem"));
    if (!agents.ok() || !key.ok()) {
      std::fprintf(stderr, "fuzz: fixtures do not load\n");
      std::abort();
    }
    auto signer = InMemorySigningKey::Create(std::move(*key));
    if (!signer.ok()) std::abort();
    return new Fixtures{std::move(*agents), std::move(*signer)};
  }();
  return *fixtures;
}

}  // namespace
}  // namespace fuzz
}  // namespace mecai

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mecai::fuzz::DiscardProtobufLogs();
  mecai::fuzz::GetFixtures();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mecai::fuzz::GetFixtures;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  mecai::v1::SignedObservation observation;
  if (data[0] % 2 == 1) {
    absl::StatusOr<mecai::v1::Signature> signature =
        mecai::SignObject(*GetFixtures().agent_key, mecai::SignedObject::kObservation, rest);
    if (!signature.ok()) std::abort();
    observation.set_tbs(rest);
    *observation.mutable_signature() = *signature;
  } else if (!observation.ParseFromString(rest)) {
    return 0;
  }
  const mecai::ObservationExpectation expected = mecai::fuzz::FuzzObservationExpectation();
  auto by_id = GetFixtures().agents->Verify(mecai::fuzz::kFuzzAgentId, observation, expected);
  auto by_any = GetFixtures().agents->VerifyFromAnyAgent(observation, expected);
  if (getenv("MECAI_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "Observation outcome: %s\n", by_id.status().ToString().c_str());
  }
  if (by_id.ok() != by_any.ok()) {
    std::fprintf(stderr, "Verify (%s) and VerifyFromAnyAgent (%s) disagree\n",
                 by_id.status().ToString().c_str(), by_any.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
