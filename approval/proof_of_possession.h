// Proof that the submitter of a bare SubjectPublicKeyInfo holds its private key (approval.proto
// SubmitIssuanceRequestRequest.proof_of_possession; a CSR's own signature is the proof for CSRs,
// RFC 2986 §3). Without it anyone could have a domain's contacts approve a key they do not hold,
// e.g. someone else's, and tie that key to the domain.
#ifndef MECAI_APPROVAL_PROOF_OF_POSSESSION_H_
#define MECAI_APPROVAL_PROOF_OF_POSSESSION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// The bytes the key signs: "MECAI approval proof of possession v1\n" || domain || "\n", the
// domain in lower case.
std::string ProofOfPossessionMessage(absl::string_view domain);

// The signature value `key` makes over ProofOfPossessionMessage(domain), with the algorithm
// common/crypto/signature.h AlgorithmForKey picks (what `mecai approval submit --key` sends).
absl::StatusOr<std::string> SignProofOfPossession(EVP_PKEY* key, absl::string_view domain);

// OK when `signature` is `key`'s signature over ProofOfPossessionMessage(domain) (algorithm as
// above). INVALID_ARGUMENT "proof_of_possession: ..." otherwise.
absl::Status VerifyProofOfPossession(EVP_PKEY* key, absl::string_view domain,
                                     absl::string_view signature);

}  // namespace mecai

#endif  // MECAI_APPROVAL_PROOF_OF_POSSESSION_H_
