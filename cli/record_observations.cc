#include "cli/record_observations.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {

absl::StatusOr<AgentKeys> LoadAgentKeys(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, 1 << 20);
  if (!text.ok()) return text.status();
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  AgentKeys keys;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " line ", number, ": expected \"<perspective id> <public key file>\""));
    }
    const std::string file =
        fields[1][0] == '/' ? fields[1] : absl::StrCat(directory, "/", fields[1]);
    absl::StatusOr<EvpPkeyPtr> key = LoadPemPublicKey(file);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", number, ": ", key.status().message()));
    }
    if (!keys.emplace(fields[0], *std::move(key)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", number, ": agent '", fields[0], "' is listed twice"));
    }
  }
  if (keys.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " lists no agent"));
  return keys;
}

size_t CheckRecordObservations(const v1::QuorumRecord& record, const AgentKeys& agents,
                               std::vector<std::string>* problems) {
  size_t verified = 0;
  std::string nonce;
  for (const v1::PerspectiveResult& result : record.perspectives()) {
    if (result.observation().tbs().empty()) continue;  // The agent could not be reached.
    const std::string where = absl::StrCat("record ", record.log_index(), ", perspective '",
                                           result.perspective().id(), "': ");
    auto agent = agents.find(result.perspective().id());
    if (agent == agents.end()) {
      problems->push_back(absl::StrCat(where, "no key is enrolled for this agent (--agents)"));
      continue;
    }
    if (!VerifyObject(agent->second.get(), SignedObject::kObservation,
                      result.observation().signature(), result.observation().tbs())
             .ok()) {
      problems->push_back(
          absl::StrCat(where, "the Observation is not signed by the agent's enrolled key"));
      continue;
    }
    v1::ObservationBody body;
    absl::Status parsed = ParseSignedBytes(result.observation().tbs(), "the Observation", &body);
    if (!parsed.ok()) {
      problems->push_back(absl::StrCat(where, parsed.message()));
      continue;
    }
    if (body.perspective().id() != result.perspective().id() ||
        body.vouching_request_sha256() != record.vouching_request_sha256() ||
        body.hostname() != record.hostname() || body.port() != record.port()) {
      problems->push_back(absl::StrCat(
          where,
          "the Observation is of another perspective, VR, hostname or port than the record"));
      continue;
    }
    if (!nonce.empty() && body.nonce() != nonce) {
      problems->push_back(
          absl::StrCat(where, "the Observations of the record are of different probe rounds"));
      continue;
    }
    nonce = body.nonce();
    ++verified;
  }
  return verified;
}

}  // namespace mecai
