// The Observations inside a quorum record, checked by an auditor who holds the VA's enrolled agent
// keys (docs/PUBLIC_LOG.md "Auditing with only the URL and the key", `--agents`): each is signed by
// the key enrolled for the perspective it names (SignedObject::kObservation) and bound to the
// record's VR, hostname and port, and all of one record share one probe round (one nonce).
#ifndef MECAI_CLI_RECORD_OBSERVATIONS_H_
#define MECAI_CLI_RECORD_OBSERVATIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// Agent perspective id → its Observation-signing public key.
using AgentKeys = std::map<std::string, EvpPkeyPtr>;

// Reads an agents file: one agent per line, "<perspective id> <PEM public key file>" (the
// agent's public_key_file of the signer's configuration), '#' starting a comment; relative paths
// from the file's directory. INVALID_ARGUMENT naming the line for a malformed line, an unreadable
// key or a repeated id.
absl::StatusOr<AgentKeys> LoadAgentKeys(const std::string& path);

// Appends to `problems` one sentence per Observation of `record` that is not signed by its
// perspective's enrolled key or not bound to the record, naming the record's index and the
// perspective. Returns the number of Observations that verified.
size_t CheckRecordObservations(const v1::QuorumRecord& record, const AgentKeys& agents,
                               std::vector<std::string>* problems);

}  // namespace mecai

#endif  // MECAI_CLI_RECORD_OBSERVATIONS_H_
