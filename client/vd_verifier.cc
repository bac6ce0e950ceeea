#include "client/vd_verifier.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/log_proof_verifier.h"
#include "client/va_chain.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/net/dns_name.h"

namespace mecai {
namespace {

bool IsCandidate(const VdExpectation& expected, const std::string& va_id) {
  return expected.candidate_vas.empty() ||
         std::find(expected.candidate_vas.begin(), expected.candidate_vas.end(), va_id) !=
             expected.candidate_vas.end();
}

}  // namespace

absl::StatusOr<std::string> CanonicalClientHostname(absl::string_view hostname) {
  if (absl::EndsWith(hostname, ".") && hostname.size() > 1) hostname.remove_suffix(1);
  std::string canonical = CanonicalHostname(hostname);
  absl::Status valid = ValidateHostname(canonical, hostname_rules::kVouchingRequest);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no VD can vouch for this name: ", valid.message()));
  }
  return canonical;
}

absl::StatusOr<v1::VouchingStatement> VerifyVouchingData(const v1::VouchingData& vd,
                                                         const VaList& vas,
                                                         const VdExpectation& expected) {
  ASSIGN_OR_RETURN(const std::string hostname, CanonicalClientHostname(expected.hostname));
  if (vd.va_certificate_chain_der().empty()) {
    return absl::InvalidArgumentError("the VD carries no VA certificate");
  }
  // The VA whose CA issued the chain and which pins the VA certificate's key, with
  // id-kp-OCSPSigning.
  ASSIGN_OR_RETURN(
      ValidatedVaChain validated,
      ValidateVaChain(vd.va_certificate_chain_der(), vas, expected.candidate_vas, expected.now));
  const VaList::Entry* issuer = validated.va;
  const VaPathResult& issuer_path = validated.path;
  const std::string& chain_sha256 = validated.chain_sha256;
  VerifiedVaCache& cache = vas.verified_va_cache();
  v1::VouchingStatement statement;
  if (vd.has_log_proof()) {
    // A logged VD (docs/VOUCHING_DATA.md "Logged VDs"): the statement is parsed first, since its
    // log index and shard locate the proof.
    RETURN_IF_ERROR(ParseSignedBytes(vd.statement(), "the logged statement", &statement));
    VerifiedVaPath path{issuer_path.va_key.get(), chain_sha256, issuer->ca_certificate_sha256,
                        &cache};
    // Cosignatures count only from the witnesses of the other VAs of the list: the VAs endorse
    // each other (docs/PUBLIC_LOG.md "Witnesses").
    path.min_cosignatures = vas.min_cosignatures();
    for (const VaList::Entry& entry : vas.entries()) {
      if (entry.witness_key.has_value() && entry.config.id() != statement.va_id()) {
        path.witnesses.push_back(*entry.witness_key);
      }
      if (entry.config.id() == statement.va_id())
        path.published_logs = entry.log_keys;  // Borrowed.
    }
    RETURN_IF_ERROR(VerifyLogProof(vd, statement, path));
  } else {
    // A signature that verified under this path before is answered by the cache (a pure function
    // of the key, statement and signature bytes; client/verified_va_cache.h).
    const std::string signature_digest = VerifiedVaCache::SignatureDigest(
        vd.statement(), vd.signature().algorithm(), vd.signature().value());
    if (!cache.HasVerifiedSignature(chain_sha256, issuer->ca_certificate_sha256,
                                    signature_digest)) {
      if (issuer_path.va_key == nullptr ||
          !VerifyObject(issuer_path.va_key.get(), SignedObject::kVouchingStatement, vd.signature(),
                        vd.statement())
               .ok()) {
        // For the message only: a statement of version 1 was signed without a context string
        // (docs/VOUCHING_DATA.md "Signed bytes"); it is refused like any other bad signature.
        v1::VouchingStatement unverified;
        if (unverified.ParseFromString(vd.statement()) && unverified.version() == 1) {
          return absl::PermissionDeniedError(
              "the VD is of statement version 1, signed without a context string, which is no "
              "longer accepted; the server must fetch a new VD");
        }
        return absl::PermissionDeniedError(
            "the VD signature does not verify under the VA certificate");
      }
      cache.RememberVerifiedSignature(chain_sha256, issuer->ca_certificate_sha256,
                                      signature_digest);
    }
    if (!statement.ParseFromString(vd.statement())) {
      return absl::InvalidArgumentError("the signed statement is not a VouchingStatement");
    }
    RETURN_IF_ERROR(RefuseUnknownFields(statement, "the signed statement"));
  }
  if (statement.version() != kVouchingStatementVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported VouchingStatement version ", statement.version()));
  }
  // The statement must name a VA the client asked for, not only one sharing the issuing CA.
  if (!IsCandidate(expected, statement.va_id())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD names VA '", statement.va_id(), "', not one of the VAs asked for (",
                     absl::StrJoin(expected.candidate_vas, ", "), ")"));
  }
  if (vas.Find(statement.va_id()) == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD names VA '", statement.va_id(), "', which is not in the VA list"));
  }
  bool va_id_matches = false;
  for (const VaList::Entry& entry : vas.entries()) {
    if (entry.config.id() == statement.va_id() &&
        X509_cmp(entry.ca_certificate.get(), issuer->ca_certificate.get()) == 0) {
      va_id_matches = true;
    }
  }
  if (!va_id_matches) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the VD names VA '", statement.va_id(), "', whose CA did not issue this VA certificate"));
  }
  // The VA certificate's key must be pinned for the VA the statement names (VaListEntry
  // va_spki_sha256): another VA, or any OCSP responder, certified by the same CA cannot speak for
  // it. A key is pinned for one VA only, the one ValidateVaChain found.
  if (statement.va_id() != issuer->config.id()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD names VA '", statement.va_id(),
                     "', but its VA certificate's key is pinned for VA '", issuer->config.id(),
                     "' (va_spki_sha256)"));
  }
  // DNS names compare case-insensitively (RFC 4343); the VA writes them lower-case.
  if (!absl::EqualsIgnoreCase(statement.hostname(), hostname)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD vouches for ", statement.hostname(), ", not ", expected.hostname));
  }
  // The VR named one port and the perspectives probed that one (ARCHITECTURE.md §3): another
  // service of the same host may serve another certificate.
  if (expected.port != 0 && statement.port() != expected.port) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD vouches for port ", statement.port(), ", not ", expected.port));
  }
  const std::string certificate_sha256 = Sha256(expected.certificate_der);
  if (std::find(statement.certificate_sha256().begin(), statement.certificate_sha256().end(),
                certificate_sha256) == statement.certificate_sha256().end()) {
    return absl::PermissionDeniedError(absl::StrCat("the certificate ",
                                                    ShortHex(certificate_sha256),
                                                    " is not among the vouched certificates"));
  }
  absl::Time issued = absl::FromUnixSeconds(statement.issued_at_unix_seconds());
  if (issued > expected.now + absl::Minutes(5)) {
    return absl::PermissionDeniedError("the VD was issued in the future");
  }
  if (expected.now - issued > expected.max_age) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD is ", absl::FormatDuration(expected.now - issued),
                     " old; the maximum age is ", absl::FormatDuration(expected.max_age)));
  }
  if (expected.require_out_of_band_approval && !statement.issuance_approved_out_of_band()) {
    return absl::PermissionDeniedError(
        "the VD does not say that issuance was approved out of band, which this client requires");
  }
  return statement;
}

}  // namespace mecai
