// Revocation evidence stored once by content hash (ARCHITECTURE.md §8 "Evidence by content hash").
// A decision carries the OCSP responses and CRLs it relied on; a CRL can be megabytes and is the
// same for every certificate its CA issued, so the log's records name each response by its
// SHA-256 (RevocationEvidence.response_sha256) and the record store keeps the bytes once.
#ifndef MECAI_COORDINATOR_RECORD_EVIDENCE_H_
#define MECAI_COORDINATOR_RECORD_EVIDENCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// One response a record names: its SHA-256 and, when the record carried them, its bytes.
struct EvidenceBlob {
  std::string sha256;
  // Empty when the record named the response by hash only (it must then be stored already).
  std::string der;
};

// Rewrites `record` into the form the log stores: every RevocationEvidence with response_der gets
// response_sha256 = SHA-256(response_der) and loses response_der. Returns the responses the record
// names, each hash once, in the order of first appearance. INVALID_ARGUMENT when an evidence
// carries a response_sha256 that is not 32 bytes, or that is not the SHA-256 of its response_der.
// `record` is unchanged on error.
absl::StatusOr<std::vector<EvidenceBlob>> MoveEvidenceOut(v1::QuorumRecord* record);

// The hashes of the responses a stored record names (response_sha256), each once.
std::vector<std::string> EvidenceNamedBy(const v1::QuorumRecord& record);

}  // namespace mecai

#endif  // MECAI_COORDINATOR_RECORD_EVIDENCE_H_
