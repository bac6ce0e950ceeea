#include "coordinator/revocation_checker.h"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"

namespace mecai {

struct RevocationChecker::SourceResult {
  v1::RevocationSource source = v1::REVOCATION_SOURCE_UNSPECIFIED;
  std::string url;
  RevocationVerdict verdict;
  // The DER the verdict rests on (empty when nothing usable was obtained).
  std::string response_der;
  absl::Time obtained_at = absl::InfinitePast();

  bool usable() const { return verdict.status != RevocationStatus::kUnusable; }
};

namespace {

constexpr size_t kNonceBytes = 16;
constexpr char kOcspRequestContentType[] = "application/ocsp-request";

// The OCSP cache key: the CertID's issuerKeyHash (RFC 6960 §4.1.1) and the serial, in hex.
std::string OcspCacheKey(X509* certificate, X509* issuer) {
  unsigned char key_hash[EVP_MAX_MD_SIZE];
  unsigned int key_hash_length = 0;
  if (X509_pubkey_digest(issuer, EVP_sha1(), key_hash, &key_hash_length) != 1) {
    ClearOpenSslErrors();
    return "";
  }
  unsigned char* serial = nullptr;
  const int serial_length = i2d_ASN1_INTEGER(X509_get0_serialNumber(certificate), &serial);
  if (serial_length <= 0) {
    ClearOpenSslErrors();
    return "";
  }
  std::string key = absl::StrCat(
      HexEncode(absl::string_view(reinterpret_cast<const char*>(key_hash), key_hash_length)), ":",
      HexEncode(absl::string_view(reinterpret_cast<const char*>(serial), serial_length)));
  OPENSSL_free(serial);
  return key;
}

// Evicts, while `cache` holds `limit` entries or more, the entry that expires first.
template <typename Entry>
void MakeRoom(std::map<std::string, std::shared_ptr<const Entry>>& cache, size_t limit) {
  while (!cache.empty() && cache.size() >= limit) {
    auto soonest = std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
      return a.second->expires_at < b.second->expires_at;
    });
    cache.erase(soonest);
  }
}

}  // namespace

// Transport errors are retried: the exchange broke before the server said anything (name
// resolution, connection refused or reset, a truncated body, a timeout — curl's errors, which
// CurlHttpFetcher reports as UNAVAILABLE or DEADLINE_EXCEEDED), and so are a 5xx (RFC 9110 §15.6)
// and a 429 (RFC 6585 §4), the server's "not now". Everything else is an answer or a refusal that a
// second attempt would only repeat: another HTTP status (Fetch's UNAVAILABLE "HTTP status N",
// common/net/http_fetcher.h), a body over the size limit (RESOURCE_EXHAUSTED), an address the
// policy refuses (PERMISSION_DENIED), a malformed URL (INVALID_ARGUMENT), a local failure
// (INTERNAL). A response that arrived whole but does not parse is not a fetch error at all.
bool IsRetryableFetchError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    case absl::StatusCode::kUnavailable: {
      absl::string_view message = status.message();
      int http_status = 0;
      if (absl::ConsumePrefix(&message, "HTTP status ") &&
          absl::SimpleAtoi(message, &http_status)) {
        return http_status == 429 || (http_status >= 500 && http_status <= 599);
      }
      return true;
    }
    default:
      return false;
  }
}

RevocationChecker::RevocationChecker(HttpFetcher& fetcher, Clock& clock, RevocationOptions options)
    : fetcher_(fetcher), clock_(clock), options_(options) {}

bool RevocationChecker::FreshEnough(const RevocationVerdict& verdict, absl::Time now) const {
  return verdict.status == RevocationStatus::kRevoked ||
         now - verdict.this_update <= options_.limits.max_evidence_age;
}

size_t RevocationChecker::CachedCrlCount() const {
  absl::MutexLock lock(&mutex_);
  return crls_by_url_.size();
}

size_t RevocationChecker::CachedOcspResponseCount() const {
  absl::MutexLock lock(&mutex_);
  return ocsp_by_certificate_.size();
}

absl::StatusOr<std::string> RevocationChecker::FetchWithRetry(HttpRequest request,
                                                              const char* kind) {
  // Real time, not clock_: the budget bounds the fetcher's real waits.
  const absl::Time deadline = absl::Now() + options_.fetch_timeout;
  request.timeout = options_.fetch_timeout;
  absl::StatusOr<std::string> body = fetcher_.Fetch(request);
  if (body.ok() || !IsRetryableFetchError(body.status())) return body;
  if (deadline - absl::Now() - options_.retry_backoff < kMinRetryTimeout) return body;
  MECAI_LOG(Warning) << kind << " " << request.url << ": " << body.status().message()
                     << "; trying again in " << options_.retry_backoff;
  absl::SleepFor(options_.retry_backoff);
  request.timeout = deadline - absl::Now();
  body = fetcher_.Fetch(request);
  if (body.ok()) return body;
  return absl::Status(body.status().code(), absl::StrCat(body.status().message(), " (2 attempts)"));
}

RevocationChecker::SourceResult RevocationChecker::CheckCrlSource(const std::string& url,
                                                                  X509* certificate, X509* issuer,
                                                                  absl::Time now) {
  SourceResult result;
  result.source = v1::CRL;
  result.url = url;

  std::shared_ptr<const CachedCrl> cached;
  {
    absl::MutexLock lock(&mutex_);
    auto found = crls_by_url_.find(url);
    if (found != crls_by_url_.end()) {
      if (now < found->second->expires_at) {
        cached = found->second;
      } else {
        crls_by_url_.erase(found);
      }
    }
  }
  if (cached != nullptr) {
    // RFC 5280 §6.3.3 again for this certificate: the cached CRL may be another issuer's.
    result.verdict = CheckParsedCrl(cached->crl.get(), certificate, issuer, now);
    if (result.usable() && FreshEnough(result.verdict, now)) {
      result.response_der = cached->der;
      result.obtained_at = cached->fetched_at;
      return result;
    }
    // The cached CRL says nothing about this certificate, or is too old to rely on; fetch afresh
    // below.
  }

  HttpRequest request;
  request.url = url;
  request.max_response_bytes = options_.max_crl_bytes;
  absl::StatusOr<std::string> body = FetchWithRetry(std::move(request), "CRL");
  const absl::Time fetched_at = clock_.Now();
  if (!body.ok()) {
    result.verdict.status = RevocationStatus::kUnusable;
    result.verdict.detail = std::string(body.status().message());
    return result;
  }
  absl::StatusOr<X509CrlPtr> crl = ParseCrl(*body);
  if (!crl.ok()) {
    result.verdict.status = RevocationStatus::kUnusable;
    result.verdict.detail = std::string(crl.status().message());
    return result;
  }
  result.verdict = CheckParsedCrl(crl->get(), certificate, issuer, now);
  if (!result.usable()) return result;

  // The evidence carries DER (v1::RevocationEvidence.response_der); a CRL served as PEM is
  // re-encoded, which keeps the signed bytes as they were.
  auto entry = std::make_shared<CachedCrl>();
  entry->der = absl::StartsWith(absl::StripLeadingAsciiWhitespace(*body), "-----BEGIN")
                   ? CrlToDer(crl->get())
                   : std::move(*body);
  entry->crl = std::move(*crl);
  entry->fetched_at = fetched_at;
  entry->expires_at = std::min(result.verdict.next_update, fetched_at + options_.max_cache_age);
  result.response_der = entry->der;
  result.obtained_at = fetched_at;
  if (options_.max_cache_entries > 0) {
    absl::MutexLock lock(&mutex_);
    crls_by_url_.erase(url);
    MakeRoom(crls_by_url_, options_.max_cache_entries);
    crls_by_url_[url] = std::move(entry);
  }
  return result;
}

RevocationChecker::SourceResult RevocationChecker::CheckOcspSource(const std::string& url,
                                                                   X509* certificate, X509* issuer,
                                                                   absl::Time now) {
  SourceResult result;
  result.source = v1::OCSP;
  result.url = url;
  result.verdict.status = RevocationStatus::kUnusable;

  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&nonce[0]), kNonceBytes) != 1) {
    result.verdict.detail = std::string(OpenSslError("RAND_bytes").message());
    return result;
  }
  absl::StatusOr<std::string> ocsp_request = BuildOcspRequest(certificate, issuer, nonce);
  if (!ocsp_request.ok()) {
    result.verdict.detail = std::string(ocsp_request.status().message());
    return result;
  }
  // RFC 6960 Appendix A.1: POST with Content-Type application/ocsp-request.
  HttpRequest request;
  request.url = url;
  request.post_body = std::move(*ocsp_request);
  request.content_type = kOcspRequestContentType;
  request.max_response_bytes = options_.max_ocsp_bytes;
  absl::StatusOr<std::string> body = FetchWithRetry(std::move(request), "OCSP");
  const absl::Time fetched_at = clock_.Now();
  if (!body.ok()) {
    result.verdict.detail = std::string(body.status().message());
    return result;
  }
  result.verdict = CheckOcspResponse(*body, certificate, issuer, nonce, now);
  if (!result.usable()) return result;
  result.response_der = *body;
  result.obtained_at = fetched_at;

  // Responses without nextUpdate are not cached: newer information is always available.
  const std::string key = OcspCacheKey(certificate, issuer);
  if (options_.max_cache_entries > 0 && !key.empty() &&
      result.verdict.next_update != absl::InfinitePast()) {
    auto entry = std::make_shared<CachedOcspResponse>();
    entry->der = std::move(*body);
    entry->url = url;
    entry->fetched_at = fetched_at;
    entry->expires_at = std::min(result.verdict.next_update, fetched_at + options_.max_cache_age);
    absl::MutexLock lock(&mutex_);
    ocsp_by_certificate_.erase(key);
    MakeRoom(ocsp_by_certificate_, options_.max_cache_entries);
    ocsp_by_certificate_[key] = std::move(entry);
  }
  return result;
}

std::shared_ptr<const RevocationChecker::CachedOcspResponse> RevocationChecker::CachedOcsp(
    const std::string& key, X509* certificate, X509* issuer, absl::Time now,
    RevocationVerdict* verdict) {
  if (key.empty()) return nullptr;
  std::shared_ptr<const CachedOcspResponse> cached;
  {
    absl::MutexLock lock(&mutex_);
    auto found = ocsp_by_certificate_.find(key);
    if (found == ocsp_by_certificate_.end()) return nullptr;
    if (now >= found->second->expires_at) {
      ocsp_by_certificate_.erase(found);
      return nullptr;
    }
    cached = found->second;
  }
  // Verified with its nonce when fetched; re-verified now for time and status.
  *verdict = CheckOcspResponse(cached->der, certificate, issuer, "", now);
  if (verdict->status == RevocationStatus::kUnusable || !FreshEnough(*verdict, now)) return nullptr;
  return cached;
}

RevocationOutcome RevocationChecker::Check(X509* certificate, X509* issuer) {
  RevocationOutcome outcome;
  const absl::Time now = clock_.Now();
  outcome.checked_at = now;

  std::vector<std::string> crl_urls = CrlDistributionPointUrls(certificate);
  std::vector<std::string> ocsp_urls = OcspResponderUrls(certificate);
  if (crl_urls.empty() && ocsp_urls.empty()) {
    outcome.reason = v1::REVOCATION_UNKNOWN;
    outcome.explanation =
        "revocation status unknown: the certificate names no CRL distribution point or OCSP "
        "responder";
    return outcome;
  }
  std::vector<std::string> not_consulted;
  for (std::vector<std::string>* urls : {&crl_urls, &ocsp_urls}) {
    while (urls->size() > options_.max_urls_per_kind) {
      not_consulted.push_back(urls->back());
      urls->pop_back();
    }
  }

  std::vector<SourceResult> results(crl_urls.size() + ocsp_urls.size());
  std::vector<std::function<void()>> tasks;
  for (size_t i = 0; i < crl_urls.size(); ++i) {
    tasks.push_back([this, &results, &crl_urls, i, certificate, issuer, now] {
      results[i] = CheckCrlSource(crl_urls[i], certificate, issuer, now);
    });
  }
  const std::string ocsp_key = OcspCacheKey(certificate, issuer);
  RevocationVerdict cached_verdict;
  std::shared_ptr<const CachedOcspResponse> cached_ocsp =
      ocsp_urls.empty() ? nullptr : CachedOcsp(ocsp_key, certificate, issuer, now, &cached_verdict);
  if (cached_ocsp != nullptr) {
    // One verified response per certificate is enough until it expires from the cache.
    results.resize(crl_urls.size() + 1);
    SourceResult& result = results.back();
    result.source = v1::OCSP;
    result.url = cached_ocsp->url;
    result.verdict = cached_verdict;
    result.response_der = cached_ocsp->der;
    result.obtained_at = cached_ocsp->fetched_at;
  } else {
    for (size_t i = 0; i < ocsp_urls.size(); ++i) {
      const size_t slot = crl_urls.size() + i;
      tasks.push_back([this, &results, &ocsp_urls, i, slot, certificate, issuer, now] {
        results[slot] = CheckOcspSource(ocsp_urls[i], certificate, issuer, now);
      });
    }
  }
  // The fetches of one check run in parallel, so a check takes one fetch_timeout at most (a URL's
  // retry included).
  if (tasks.size() == 1) {
    tasks.front()();
  } else {
    // Both certificates are shared by the fetch threads. OpenSSL fills an X509's extension cache
    // (key identifiers, flags) on first use and publishes it with an atomic flag; filling it here,
    // before the threads exist, orders it before all of them through thread creation, which
    // ThreadSanitizer can see (the flag's atomics are inside the uninstrumented libcrypto).
    // X509_check_purpose with purpose -1 only fills the cache (X509_check_purpose(3)).
    X509_check_purpose(certificate, -1, 0);
    X509_check_purpose(issuer, -1, 0);
    ClearOpenSslErrors();
    std::vector<std::thread> threads;
    threads.reserve(tasks.size());
    // The fetch threads log with the caller's context (the VR's vr_id, deploy/README.md "Logs").
    const LogFields log_context = CurrentLogContext();
    for (std::function<void()>& task : tasks) {
      threads.emplace_back([&task, &log_context] {
        ScopedLogContext context(log_context);
        task();
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  // Every usable response becomes evidence for the signer; all of them, usable or not, are judged
  // by the rule the signer applies to that evidence.
  const std::string certificate_sha256 = Sha256(CertificateToDer(certificate));
  std::vector<SourcedRevocationVerdict> verdicts;
  for (const SourceResult& result : results) {
    verdicts.push_back({result.source, result.url, result.verdict});
    if (!result.usable()) continue;
    v1::RevocationEvidence& evidence = outcome.evidence.emplace_back();
    evidence.set_certificate_sha256(certificate_sha256);
    evidence.set_source(result.source);
    evidence.set_response_der(result.response_der);
    evidence.set_obtained_at_unix_seconds(absl::ToUnixSeconds(result.obtained_at));
    evidence.set_next_update_unix_seconds(result.verdict.next_update == absl::InfinitePast()
                                              ? 0
                                              : absl::ToUnixSeconds(result.verdict.next_update));
    evidence.set_url(result.url);
  }
  const RevocationJudgement judgement =
      CombineRevocationVerdicts(verdicts, certificate, now, options_.limits);
  outcome.reason = judgement.reason;
  outcome.source = judgement.source;
  outcome.ca_signed_at = judgement.ca_signed_at;
  std::string sources = judgement.explanation;
  if (!not_consulted.empty()) {
    absl::StrAppend(&sources, " (not consulted: ", absl::StrJoin(not_consulted, ", "), ")");
  }
  if (judgement.reason == v1::CERTIFICATE_REVOKED) {
    outcome.explanation = absl::StrCat("the certificate is revoked: ", judgement.explanation);
  } else if (judgement.good()) {
    outcome.explanation = absl::StrCat("not revoked: ", sources);
  } else {
    outcome.explanation = absl::StrCat("revocation status unknown: ", sources);
    MECAI_LOG(Info) << "revocation status unknown: " << sources;
  }
  return outcome;
}

}  // namespace mecai
