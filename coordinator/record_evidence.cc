#include "coordinator/record_evidence.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

constexpr size_t kSha256Bytes = 32;

}  // namespace

absl::StatusOr<std::vector<EvidenceBlob>> MoveEvidenceOut(v1::QuorumRecord* record) {
  std::vector<EvidenceBlob> blobs;
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> hashes;
  hashes.reserve(record->revocation_size());
  for (int i = 0; i < record->revocation_size(); ++i) {
    const v1::RevocationEvidence& evidence = record->revocation(i);
    const std::string& claimed = evidence.response_sha256();
    if (!claimed.empty() && claimed.size() != kSha256Bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "revocation evidence ", i, " has a ", claimed.size(), "-byte response_sha256, not 32"));
    }
    std::string sha256 = claimed;
    if (!evidence.response_der().empty()) {
      sha256 = Sha256(evidence.response_der());
      if (!claimed.empty() && claimed != sha256) {
        return absl::InvalidArgumentError(
            absl::StrCat("revocation evidence ", i,
                         " has a response_sha256 that is not the SHA-256 of its response"));
      }
    }
    hashes.push_back(sha256);
    if (sha256.empty() || !seen.insert(sha256).second) continue;
    blobs.push_back(EvidenceBlob{sha256, evidence.response_der()});
  }
  for (int i = 0; i < record->revocation_size(); ++i) {
    v1::RevocationEvidence* evidence = record->mutable_revocation(i);
    evidence->set_response_sha256(std::move(hashes[i]));
    evidence->clear_response_der();
  }
  return blobs;
}

std::vector<std::string> EvidenceNamedBy(const v1::QuorumRecord& record) {
  std::vector<std::string> hashes;
  absl::flat_hash_set<std::string> seen;
  for (const v1::RevocationEvidence& evidence : record.revocation()) {
    if (!evidence.response_sha256().empty() && seen.insert(evidence.response_sha256()).second) {
      hashes.push_back(evidence.response_sha256());
    }
  }
  return hashes;
}

}  // namespace mecai
