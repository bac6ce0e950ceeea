#include "client/vd_verifier.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hashing.h"
#include "common/openssl_error.h"
#include "common/pem.h"
#include "common/revocation.h"
#include "common/signature.h"
#include "common/signed_object.h"
#include "common/status.h"
#include "common/trust_lists.h"

namespace mecai {
namespace {

// RFC 5280 §6 path validation of the VA certificate up to one VA's CA certificate. On success,
// also the VA certificate's key and usage and the window in which the validated path (trust
// anchor included: OpenSSL checks its validity too) stays valid; otherwise the X509_V_ERR_* code
// in words ("certificate has expired").
VaPathResult ValidateChain(const std::vector<X509Ptr>& chain, X509* ca_certificate, absl::Time at) {
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca_certificate);
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  ClearOpenSslErrors();
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), chain[0].get(), untrusted.get());
  X509_STORE_CTX_set_time(context.get(), 0, absl::ToTimeT(at));
  VaPathResult result;
  const bool ok = X509_verify_cert(context.get()) == 1;
  result.verify_error = ok ? X509_V_OK : X509_STORE_CTX_get_error(context.get());
  if (!ok) {
    // A failure must never read as "builds".
    if (result.verify_error == X509_V_OK) result.verify_error = X509_V_ERR_UNSPECIFIED;
    result.rejection = X509_verify_cert_error_string(result.verify_error);
    ClearOpenSslErrors();
    return result;
  }
  STACK_OF(X509)* validated = X509_STORE_CTX_get0_chain(context.get());  // Borrowed.
  for (int i = 0; i < sk_X509_num(validated); ++i) {
    X509* certificate = sk_X509_value(validated, i);
    result.valid_from =
        std::max(result.valid_from, Asn1TimeToAbslTime(X509_get0_notBefore(certificate)));
    const absl::Time not_after = Asn1TimeToAbslTime(X509_get0_notAfter(certificate));
    result.valid_until = i == 0 ? not_after : std::min(result.valid_until, not_after);
  }
  result.va_key.reset(X509_get_pubkey(chain[0].get()));
  result.ocsp_signing = HasOcspSigningUsage(chain[0].get());
  ClearOpenSslErrors();
  return result;
}

// The presented VA certificate chain, parsed into `chain`.
absl::Status ParseChain(const v1::VouchingData& vd, std::vector<X509Ptr>* chain) {
  chain->clear();
  for (const std::string& der : vd.va_certificate_chain_der()) {
    auto certificate = ParseDerCertificate(der);
    if (!certificate.ok()) return Annotate(certificate.status(), "VA certificate chain");
    chain->push_back(std::move(*certificate));
  }
  return absl::OkStatus();
}

// The verified-VA cache's key for a presented chain: SHA-256 over the SHA-256 of each DER
// certificate, in order.
std::string ChainSha256(const v1::VouchingData& vd) {
  std::string hashes;
  for (const std::string& der : vd.va_certificate_chain_der()) hashes += Sha256(der);
  return Sha256(hashes);
}

bool IsCandidate(const VdExpectation& expected, const std::string& va_id) {
  return expected.candidate_vas.empty() ||
         std::find(expected.candidate_vas.begin(), expected.candidate_vas.end(), va_id) !=
             expected.candidate_vas.end();
}

}  // namespace

absl::StatusOr<v1::VouchingStatement> VerifyVouchingData(const v1::VouchingData& vd,
                                                         const VaList& vas,
                                                         const VdExpectation& expected) {
  if (vd.va_certificate_chain_der().empty()) {
    return absl::InvalidArgumentError("the VD carries no VA certificate");
  }
  // Parsed only when a validation runs (a cache miss) or the chain is rejected.
  std::vector<X509Ptr> chain;
  const std::string chain_sha256 = ChainSha256(vd);
  VerifiedVaCache& cache = vas.verified_va_cache();
  // Which listed VA's CA does this VA certificate chain to? Candidates are tried in list order,
  // each answered by the cache when it holds a result valid at `now`, else by path validation.
  const VaList::Entry* issuer = nullptr;
  VaPathResult issuer_path;
  // Why each tried VA's CA rejected the chain, e.g. "va-a: certificate has expired".
  std::vector<std::string> rejections;
  for (const VaList::Entry& entry : vas.entries()) {
    if (!IsCandidate(expected, entry.config.id())) continue;
    std::optional<VaPathResult> result =
        cache.Find(chain_sha256, entry.ca_certificate_sha256, expected.now);
    if (!result.has_value()) {
      if (chain.empty()) RETURN_IF_ERROR(ParseChain(vd, &chain));
      result = ValidateChain(chain, entry.ca_certificate.get(), expected.now);
      cache.Insert(chain_sha256, entry.ca_certificate_sha256, *result);
    }
    if (result->builds()) {
      issuer = &entry;
      issuer_path = std::move(*result);
      break;
    }
    rejections.push_back(absl::StrCat(entry.config.id(), ": ", result->rejection));
  }
  if (issuer == nullptr) {
    // A chain that does not parse is reported as such, also when no validation ran. (A chain the
    // cache answered for parsed before: its bytes are the same.)
    if (chain.empty()) RETURN_IF_ERROR(ParseChain(vd, &chain));
    return absl::PermissionDeniedError(absl::StrCat(
        "the VA certificate does not chain to the CA of any ",
        expected.candidate_vas.empty()
            ? "listed VA"
            : absl::StrCat("VA asked for (", absl::StrJoin(expected.candidate_vas, ", "), ")"),
        rejections.empty() ? "" : absl::StrCat(" (", absl::StrJoin(rejections, "; "), ")")));
  }
  if (!issuer_path.ocsp_signing) {
    return absl::PermissionDeniedError(
        "the VA certificate lacks the id-kp-OCSPSigning (designated OCSP responder) usage");
  }
  // A signature that verified under this path before is answered by the cache (a pure function
  // of the key, statement and signature bytes; client/verified_va_cache.h).
  const std::string signature_digest = VerifiedVaCache::SignatureDigest(
      vd.statement(), vd.signature().algorithm(), vd.signature().value());
  if (!cache.HasVerifiedSignature(chain_sha256, issuer->ca_certificate_sha256, signature_digest)) {
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
    cache.RememberVerifiedSignature(chain_sha256, issuer->ca_certificate_sha256, signature_digest);
  }
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(vd.statement())) {
    return absl::InvalidArgumentError("the signed statement is not a VouchingStatement");
  }
  RETURN_IF_ERROR(RefuseUnknownFields(statement, "the signed statement"));
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
  // DNS names compare case-insensitively (RFC 4343); the VA writes them lower-case.
  if (!absl::EqualsIgnoreCase(statement.hostname(), expected.hostname)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the VD vouches for ", statement.hostname(), ", not ", expected.hostname));
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
