#include "client/vd_verifier.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hashing.h"
#include "common/openssl_error.h"
#include "common/pem.h"
#include "common/signature.h"
#include "common/status.h"
#include "common/trust_lists.h"

namespace mecai {
namespace {

// RFC 5280 §6 path validation of the VA certificate up to one VA's CA certificate. OK, or the
// X509_V_ERR_* reason in words ("certificate has expired").
absl::Status ChainBuildsTo(const std::vector<X509Ptr>& chain, X509* ca_certificate, absl::Time at) {
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
  const bool ok = X509_verify_cert(context.get()) == 1;
  const int error = X509_STORE_CTX_get_error(context.get());
  ClearOpenSslErrors();
  if (ok) return absl::OkStatus();
  return absl::PermissionDeniedError(X509_verify_cert_error_string(error));
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
  std::vector<X509Ptr> chain;
  for (const std::string& der : vd.va_certificate_chain_der()) {
    auto certificate = ParseDerCertificate(der);
    if (!certificate.ok()) return Annotate(certificate.status(), "VA certificate chain");
    chain.push_back(std::move(*certificate));
  }
  // Which listed VA's CA does this VA certificate chain to?
  const VaList::Entry* issuer = nullptr;
  // Why each tried VA's CA rejected the chain, e.g. "va-a: certificate has expired".
  std::vector<std::string> rejections;
  for (const VaList::Entry& entry : vas.entries()) {
    if (!IsCandidate(expected, entry.config.id())) continue;
    absl::Status chained = ChainBuildsTo(chain, entry.ca_certificate.get(), expected.now);
    if (chained.ok()) {
      issuer = &entry;
      break;
    }
    rejections.push_back(absl::StrCat(entry.config.id(), ": ", chained.message()));
  }
  if (issuer == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the VA certificate does not chain to the CA of any ",
        expected.candidate_vas.empty()
            ? "listed VA"
            : absl::StrCat("VA asked for (", absl::StrJoin(expected.candidate_vas, ", "), ")"),
        rejections.empty() ? "" : absl::StrCat(" (", absl::StrJoin(rejections, "; "), ")")));
  }
  if (!HasOcspSigningUsage(chain[0].get())) {
    return absl::PermissionDeniedError(
        "the VA certificate lacks the id-kp-OCSPSigning (designated OCSP responder) usage");
  }
  EvpPkeyPtr va_key(X509_get_pubkey(chain[0].get()));
  if (va_key == nullptr || !VerifySignature(va_key.get(), vd.signature(), vd.statement()).ok()) {
    return absl::PermissionDeniedError("the VD signature does not verify under the VA certificate");
  }
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(vd.statement())) {
    return absl::InvalidArgumentError("the signed statement is not a VouchingStatement");
  }
  if (statement.version() != 1) {
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
  return statement;
}

}  // namespace mecai
