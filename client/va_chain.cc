#include "client/va_chain.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/evidence/trust_lists.h"
#include "common/revocation/revocation.h"

namespace mecai {
namespace {

// RFC 5280 §6 path validation of the VA certificate up to one VA's CA certificate. On success,
// also the VA certificate's key, its SubjectPublicKeyInfo hash and usage, and the window in which
// the validated path (trust anchor included: OpenSSL checks its validity too) stays valid;
// otherwise the X509_V_ERR_* code in words ("certificate has expired").
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
  if (result.va_key != nullptr) result.va_spki_sha256 = Sha256(PublicKeyToDer(result.va_key.get()));
  result.ocsp_signing = HasOcspSigningUsage(chain[0].get());
  ClearOpenSslErrors();
  return result;
}

// The presented VA certificate chain, parsed into `chain`.
absl::Status ParseChain(const google::protobuf::RepeatedPtrField<std::string>& chain_der,
                        std::vector<X509Ptr>* chain) {
  chain->clear();
  for (const std::string& der : chain_der) {
    auto certificate = ParseDerCertificate(der);
    if (!certificate.ok()) return Annotate(certificate.status(), "VA certificate chain");
    chain->push_back(std::move(*certificate));
  }
  return absl::OkStatus();
}

// The verified-VA cache's key for a presented chain: SHA-256 over the SHA-256 of each DER
// certificate, in order.
std::string ChainSha256(const google::protobuf::RepeatedPtrField<std::string>& chain_der) {
  std::string hashes;
  for (const std::string& der : chain_der) hashes += Sha256(der);
  return Sha256(hashes);
}

}  // namespace

absl::StatusOr<ValidatedVaChain> ValidateVaChain(
    const google::protobuf::RepeatedPtrField<std::string>& chain_der, const VaList& vas,
    const std::vector<std::string>& candidate_vas, absl::Time now) {
  if (chain_der.empty()) return absl::InvalidArgumentError("no VA certificate was presented");
  // Parsed only when a validation runs (a cache miss) or the chain is rejected.
  std::vector<X509Ptr> chain;
  ValidatedVaChain validated;
  validated.chain_sha256 = ChainSha256(chain_der);
  VerifiedVaCache& cache = vas.verified_va_cache();
  // Why each tried VA rejected the chain, e.g. "va-a: certificate has expired".
  std::vector<std::string> rejections;
  // The key of a chain that built to some tried VA's CA without being pinned there.
  std::string unpinned_key;
  for (const VaList::Entry& entry : vas.entries()) {
    if (!candidate_vas.empty() && std::find(candidate_vas.begin(), candidate_vas.end(),
                                            entry.config.id()) == candidate_vas.end()) {
      continue;
    }
    std::optional<VaPathResult> result =
        cache.Find(validated.chain_sha256, entry.ca_certificate_sha256, now);
    if (!result.has_value()) {
      if (chain.empty()) RETURN_IF_ERROR(ParseChain(chain_der, &chain));
      result = ValidateChain(chain, entry.ca_certificate.get(), now);
      cache.Insert(validated.chain_sha256, entry.ca_certificate_sha256, *result);
    }
    if (!result->builds()) {
      rejections.push_back(absl::StrCat(entry.config.id(), ": ", result->rejection));
      continue;
    }
    // Compared on every call, cached path or not: the cache is per CA, the pin per VA.
    if (!entry.PinsKey(result->va_spki_sha256)) {
      unpinned_key = result->va_spki_sha256;
      rejections.push_back(absl::StrCat(entry.config.id(), ": key not in va_spki_sha256"));
      continue;
    }
    validated.va = &entry;
    validated.path = std::move(*result);
    break;
  }
  if (validated.va == nullptr) {
    // A chain that does not parse is reported as such, also when no validation ran. (A chain the
    // cache answered for parsed before: its bytes are the same.)
    if (chain.empty()) RETURN_IF_ERROR(ParseChain(chain_der, &chain));
    const std::string which =
        candidate_vas.empty()
            ? "listed VA"
            : absl::StrCat("VA asked for (", absl::StrJoin(candidate_vas, ", "), ")");
    const std::string why =
        rejections.empty() ? "" : absl::StrCat(" (", absl::StrJoin(rejections, "; "), ")");
    if (!unpinned_key.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the VA certificate's key (SubjectPublicKeyInfo SHA-256 ", HexEncode(unpinned_key),
          ") is not pinned for any ", which, " whose CA issued it", why));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("the VA certificate does not chain to the CA of any ", which, why));
  }
  if (!validated.path.ocsp_signing) {
    return absl::PermissionDeniedError(
        "the VA certificate lacks the id-kp-OCSPSigning (designated OCSP responder) usage");
  }
  return validated;
}

}  // namespace mecai
