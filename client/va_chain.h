// Which listed VA a presented VA certificate chain speaks for (docs/VOUCHING_DATA.md §4). One
// validation for everything a VA signs: Vouching Data (client/vd_verifier.h) and log checkpoints
// (`mecai audit --verify`, cli/audit_client.h).
#ifndef MECAI_CLIENT_VA_CHAIN_H_
#define MECAI_CLIENT_VA_CHAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/va_list.h"
#include "client/verified_va_cache.h"
#include "google/protobuf/repeated_field.h"

namespace mecai {

// A VA certificate chain that ValidateVaChain accepted.
struct ValidatedVaChain {
  // The listed VA the chain speaks for; borrowed from the VaList, which must outlive this.
  const VaList::Entry* va = nullptr;
  // The validated path: the VA certificate's key (what the VA's signatures verify under), the
  // SHA-256 of its SubjectPublicKeyInfo, and the window in which the path is valid.
  VaPathResult path;
  // The verified-VA cache's key of the presented chain (VerifiedVaCache).
  std::string chain_sha256;
};

// Finds the VA that `chain_der` (DER certificates, the VA certificate first, then intermediates in
// any order) speaks for: the first listed VA, in list order, among `candidate_vas` (empty: any
// listed VA) such that
//   * the chain builds to the VA's CA certificate at `now` (RFC 5280 §6, the presented
//     intermediates as untrusted certificates), and
//   * the VA certificate's key is pinned for the VA (VaListEntry.va_spki_sha256).
// That VA's certificate must then carry id-kp-OCSPSigning. A key is pinned for at most one VA of a
// list (VaList::Load), so the answer does not depend on the list order.
//
// Errors: INVALID_ARGUMENT for an empty or unparsable chain; PERMISSION_DENIED naming, for each
// VA tried, why it was not the one ("va-a: certificate has expired", "va-b: key not in
// va_spki_sha256"), or the missing usage.
//
// Path validations are remembered in `vas.verified_va_cache()` per (chain, CA) while valid; the
// pin is compared on every call, so a path cached for one VA never lets the key speak for another
// VA sharing its CA.
absl::StatusOr<ValidatedVaChain> ValidateVaChain(
    const google::protobuf::RepeatedPtrField<std::string>& chain_der, const VaList& vas,
    const std::vector<std::string>& candidate_vas, absl::Time now);

}  // namespace mecai

#endif  // MECAI_CLIENT_VA_CHAIN_H_
