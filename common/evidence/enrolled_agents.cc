#include "common/evidence/enrolled_agents.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"

namespace mecai {
namespace {

// "EC P-256, RSA", or "none", for sentences.
template <typename KeyTypes>
std::string KeyTypeList(const KeyTypes& key_types) {
  if (key_types.empty()) return "none";
  return absl::StrJoin(key_types, ", ", [](std::string* out, int key_type) {
    out->append(KeyTypeName(static_cast<v1::CertificateKeyType>(key_type)));
  });
}

// The handshakes of `body` asked for the key types `expected` names, and nothing else
// (docs/PROTOCOL.md "Key-typed handshakes"): its certificate_key_types are exactly `expected`, and
// every handshake asked for one of them (for none when `expected` is empty).
absl::Status CheckKeyTypes(const v1::ObservationBody& body,
                           const std::vector<v1::CertificateKeyType>& expected) {
  const auto& made_for = body.certificate_key_types();
  if (!std::equal(made_for.begin(), made_for.end(), expected.begin(), expected.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Observation asked for certificates of key types ", KeyTypeList(made_for),
                     ", not those of the VR's certificates (", KeyTypeList(expected), ")"));
  }
  for (const v1::AddressObservation& address : body.addresses()) {
    const bool listed = expected.empty()
                            ? address.requested_key_type() == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED
                            : std::find(expected.begin(), expected.end(),
                                        address.requested_key_type()) != expected.end();
    if (!listed) {
      return absl::InvalidArgumentError(
          absl::StrCat("the Observation's handshake at ", address.address(), " asked for ",
                       KeyTypeName(address.requested_key_type()), ", which its key types (",
                       KeyTypeList(made_for), ") do not list"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

ObservationExpectation ExpectationFor(const VerifiedVouchingRequest& request,
                                      const std::string& nonce, absl::Time now,
                                      absl::Duration max_age) {
  ObservationExpectation expected;
  expected.request_sha256 = request.request_sha256;
  expected.nonce = nonce;
  expected.hostname = request.body.hostname();
  expected.port = request.body.port();
  expected.certificate_key_types = ProbeKeyTypes(request);
  expected.now = now;
  expected.max_age = max_age;
  return expected;
}

absl::StatusOr<std::unique_ptr<EnrolledAgents>> EnrolledAgents::Load(
    const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& agents) {
  std::unique_ptr<EnrolledAgents> enrolled(new EnrolledAgents());
  for (const v1::AgentEndpoint& endpoint : agents) {
    const v1::Perspective& perspective = endpoint.perspective();
    if (perspective.id().empty() || perspective.region().empty()) {
      return absl::InvalidArgumentError("every agent needs a perspective id and region");
    }
    if (enrolled->agents_.count(perspective.id()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent '", perspective.id(), "' is configured twice"));
    }
    auto key = LoadPemPublicKey(endpoint.public_key_file());
    if (!key.ok()) {
      return Annotate(key.status(), absl::StrCat("agent '", perspective.id(), "' public key"));
    }
    Agent& agent = enrolled->agents_[perspective.id()];
    agent.perspective = perspective;
    agent.public_key = std::move(*key);
    enrolled->perspectives_.push_back(perspective);
  }
  return enrolled;
}

absl::StatusOr<v1::ObservationBody> EnrolledAgents::Verify(
    const std::string& perspective_id, const v1::SignedObservation& observation,
    const ObservationExpectation& expected) const {
  auto it = agents_.find(perspective_id);
  if (it == agents_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no agent with id '", perspective_id, "' is enrolled"));
  }
  const Agent& agent = it->second;
  absl::Status signature = VerifyObject(agent.public_key.get(), SignedObject::kObservation,
                                        observation.signature(), observation.tbs());
  if (!signature.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the Observation from '", perspective_id,
                                                   "' is not signed by its enrolled key"));
  }
  v1::ObservationBody body;
  if (!body.ParseFromString(observation.tbs())) {
    return absl::InvalidArgumentError("the signed Observation is not an ObservationBody");
  }
  RETURN_IF_ERROR(RefuseUnknownFields(body, "the signed Observation"));
  if (body.perspective().id() != agent.perspective.id() ||
      body.perspective().region() != agent.perspective.region()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Observation names perspective ", body.perspective().id(), "/",
                     body.perspective().region(), " but the agent is enrolled as ",
                     agent.perspective.id(), "/", agent.perspective.region()));
  }
  if (body.vouching_request_sha256() != expected.request_sha256 || body.nonce() != expected.nonce) {
    return absl::InvalidArgumentError(
        "the Observation is bound to another VR or probe round (digest or nonce differ)");
  }
  if (body.hostname() != expected.hostname || body.port() != expected.port) {
    return absl::InvalidArgumentError(absl::StrCat("the Observation is for ", body.hostname(), ":",
                                                   body.port(), ", not ", expected.hostname, ":",
                                                   expected.port));
  }
  RETURN_IF_ERROR(CheckKeyTypes(body, expected.certificate_key_types));
  absl::Time finished = absl::FromUnixMillis(body.finished_at_unix_milliseconds());
  if (finished < expected.now - expected.max_age || finished > expected.now + expected.max_age) {
    return absl::InvalidArgumentError(
        absl::StrCat("the Observation finished ", absl::FormatDuration(expected.now - finished),
                     " ago, outside the accepted ", absl::FormatDuration(expected.max_age)));
  }
  return body;
}

absl::StatusOr<v1::ObservationBody> EnrolledAgents::VerifyFromAnyAgent(
    const v1::SignedObservation& observation, const ObservationExpectation& expected) const {
  // The claimed id is read before the signature check only to pick the key to check with.
  v1::ObservationBody claimed;
  if (!claimed.ParseFromString(observation.tbs())) {
    return absl::InvalidArgumentError("the signed Observation is not an ObservationBody");
  }
  return Verify(claimed.perspective().id(), observation, expected);
}

}  // namespace mecai
