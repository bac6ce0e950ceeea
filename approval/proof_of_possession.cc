#include "approval/proof_of_possession.h"

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/signature.h"

namespace mecai {

std::string ProofOfPossessionMessage(absl::string_view domain) {
  return absl::StrCat("MECAI approval proof of possession v1\n", domain, "\n");
}

absl::StatusOr<std::string> SignProofOfPossession(EVP_PKEY* key, absl::string_view domain) {
  ASSIGN_OR_RETURN(const v1::SignatureAlgorithm algorithm, AlgorithmForKey(key));
  ASSIGN_OR_RETURN(v1::Signature signature,
                   SignBytes(key, algorithm, ProofOfPossessionMessage(domain)));
  return std::move(*signature.mutable_value());
}

absl::Status VerifyProofOfPossession(EVP_PKEY* key, absl::string_view domain,
                                     absl::string_view signature) {
  if (signature.empty()) {
    return absl::InvalidArgumentError(
        "proof_of_possession: required with subject_public_key_info_der: the key's signature "
        "over \"MECAI approval proof of possession v1\\n<domain>\\n\" (docs/APPROVAL.md), or "
        "send a CSR instead");
  }
  absl::StatusOr<v1::SignatureAlgorithm> algorithm = AlgorithmForKey(key);
  if (!algorithm.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject_public_key_info_der: ", algorithm.status().message()));
  }
  v1::Signature proof;
  proof.set_algorithm(*algorithm);
  proof.set_value(std::string(signature));
  if (!VerifySignature(key, proof, ProofOfPossessionMessage(domain)).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("proof_of_possession: not a signature by the submitted key over the proof "
                     "message for ",
                     domain));
  }
  return absl::OkStatus();
}

}  // namespace mecai
