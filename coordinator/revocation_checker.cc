#include "coordinator/revocation_checker.h"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
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
  // The DER the verdict rests on (empty when nothing usable was obtained), and its SHA-256,
  // computed once per response fetched (ARCHITECTURE.md §8 "Evidence by content hash").
  std::string response_der;
  std::string response_sha256;
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

// One URL a check fetches, and what came back.
struct RevocationChecker::SourceFetch {
  // Where the verdict goes in PendingCheck::results.
  size_t slot = 0;
  v1::RevocationSource source = v1::REVOCATION_SOURCE_UNSPECIFIED;
  HttpRequest request;
  // The OCSP request's nonce (RFC 8954), which the response must echo.
  std::string nonce;
  SharedBody body;
  absl::Time fetched_at = absl::InfinitePast();
};

// One check from CheckAsync to its `done`: shared by its fetches' callbacks, the last of which
// hands it to `run` for judging.
struct RevocationChecker::PendingCheck {
  X509Ptr certificate;
  X509Ptr issuer;
  absl::Time now;
  std::vector<SourceResult> results;
  std::vector<SourceFetch> fetches;
  std::vector<std::string> not_consulted;
  std::atomic<size_t> fetches_left{0};
  Executor run;
  CheckDone done;
  // The caller's log context (a VR's vr_id), for what is logged on the fetcher's thread.
  LogFields log_context;
};

void RevocationChecker::FetchWithRetryAsync(HttpRequest request, const char* kind,
                                            SharedBodyDone done) {
  // Real time, not clock_: the budget bounds the fetcher's real waits.
  const absl::Time deadline = absl::Now() + options_.fetch_timeout;
  request.timeout = options_.fetch_timeout;
  auto retry = std::make_shared<HttpRequest>(request);
  const LogFields log_context = CurrentLogContext();
  auto share = [](absl::StatusOr<std::string> body) {
    return std::make_shared<const absl::StatusOr<std::string>>(std::move(body));
  };
  fetcher_.FetchAsync(
      request, absl::ZeroDuration(),
      [this, retry, kind, deadline, log_context, share,
       done = std::move(done)](absl::StatusOr<std::string> body) mutable {
        if (body.ok() || !IsRetryableFetchError(body.status())) return done(share(std::move(body)));
        const absl::Duration left = deadline - absl::Now() - options_.retry_backoff;
        if (left < kMinRetryTimeout) return done(share(std::move(body)));
        {
          ScopedLogContext context(log_context);
          MECAI_LOG(Warning) << kind << " " << retry->url << ": " << body.status().message()
                             << "; trying again in " << options_.retry_backoff;
        }
        retry->timeout = left;
        fetcher_.FetchAsync(
            *retry, options_.retry_backoff,
            [share, done = std::move(done)](absl::StatusOr<std::string> again) {
              if (again.ok() || again.status().code() == absl::StatusCode::kAborted) {
                return done(share(std::move(again)));
              }
              done(share(absl::Status(again.status().code(),
                                      absl::StrCat(again.status().message(), " (2 attempts)"))));
            });
      });
}

void RevocationChecker::FetchCrlOnce(HttpRequest request, SharedBodyDone done) {
  const std::string url = request.url;
  crl_downloads_.Run(url, std::move(done), [&](SharedBodyDone finished) {
    FetchWithRetryAsync(std::move(request), "CRL", std::move(finished));
  });
}

bool RevocationChecker::CachedCrl(const std::string& url, X509* certificate, X509* issuer,
                                  absl::Time now, SourceResult* result) {
  std::shared_ptr<const CachedCrlEntry> cached;
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
  if (cached == nullptr) return false;
  // RFC 5280 §6.3.3 again for this certificate: the cached CRL may be another issuer's.
  result->verdict =
      CheckParsedCrl(cached->crl.get(), certificate, issuer, now, cached->verified_with);
  if (!result->usable() || !FreshEnough(result->verdict, now)) {
    // The cached CRL says nothing about this certificate, or is too old to rely on: fetched afresh.
    result->verdict = RevocationVerdict();
    return false;
  }
  result->response_der = cached->der;
  result->response_sha256 = cached->sha256;
  result->obtained_at = cached->fetched_at;
  return true;
}

void RevocationChecker::JudgeFetchedCrl(SourceFetch& fetch, X509* certificate, X509* issuer,
                                        absl::Time now, SourceResult* result) {
  // Another check that waited for the same download may have cached it meanwhile.
  if (CachedCrl(result->url, certificate, issuer, now, result)) return;
  if (!fetch.body->ok()) {
    result->verdict.status = RevocationStatus::kUnusable;
    result->verdict.detail = std::string(fetch.body->status().message());
    return;
  }
  const std::string& body = **fetch.body;
  absl::StatusOr<X509CrlPtr> crl = ParseCrl(body);
  if (!crl.ok()) {
    result->verdict.status = RevocationStatus::kUnusable;
    result->verdict.detail = std::string(crl.status().message());
    return;
  }
  result->verdict = CheckParsedCrl(crl->get(), certificate, issuer, now);
  if (!result->usable()) return;

  // The evidence carries DER (v1::RevocationEvidence.response_der); a CRL served as PEM is
  // re-encoded, which keeps the signed bytes as they were.
  auto entry = std::make_shared<CachedCrlEntry>();
  entry->der = absl::StartsWith(absl::StripLeadingAsciiWhitespace(body), "-----BEGIN")
                   ? CrlToDer(crl->get())
                   : body;
  entry->sha256 = Sha256(entry->der);
  entry->crl = std::move(*crl);
  // A usable verdict: the signature verified with this issuer's key.
  entry->verified_with = IssuerKeyDer(issuer);
  entry->fetched_at = fetch.fetched_at;
  entry->expires_at =
      std::min(result->verdict.next_update, fetch.fetched_at + options_.max_cache_age);
  result->response_der = entry->der;
  result->response_sha256 = entry->sha256;
  result->obtained_at = fetch.fetched_at;
  if (options_.max_cache_entries > 0) {
    absl::MutexLock lock(&mutex_);
    crls_by_url_.erase(result->url);
    MakeRoom(crls_by_url_, options_.max_cache_entries);
    crls_by_url_[result->url] = std::move(entry);
  }
}

bool RevocationChecker::PrepareOcspFetch(X509* certificate, X509* issuer, SourceFetch* fetch,
                                         SourceResult* result) {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&nonce[0]), kNonceBytes) != 1) {
    result->verdict.detail = std::string(OpenSslError("RAND_bytes").message());
    return false;
  }
  absl::StatusOr<std::string> ocsp_request = BuildOcspRequest(certificate, issuer, nonce);
  if (!ocsp_request.ok()) {
    result->verdict.detail = std::string(ocsp_request.status().message());
    return false;
  }
  // RFC 6960 Appendix A.1: POST with Content-Type application/ocsp-request.
  fetch->request.post_body = std::move(*ocsp_request);
  fetch->request.content_type = kOcspRequestContentType;
  fetch->request.max_response_bytes = options_.max_ocsp_bytes;
  fetch->nonce = std::move(nonce);
  return true;
}

void RevocationChecker::JudgeFetchedOcsp(SourceFetch& fetch, X509* certificate, X509* issuer,
                                         absl::Time now, SourceResult* result) {
  if (!fetch.body->ok()) {
    result->verdict.detail = std::string(fetch.body->status().message());
    return;
  }
  const std::string& body = **fetch.body;
  result->verdict = CheckOcspResponse(body, certificate, issuer, fetch.nonce, now);
  if (!result->usable()) return;
  result->response_der = body;
  result->response_sha256 = Sha256(body);
  result->obtained_at = fetch.fetched_at;

  // Responses without nextUpdate are not cached: newer information is always available.
  const std::string key = OcspCacheKey(certificate, issuer);
  if (options_.max_cache_entries > 0 && !key.empty() &&
      result->verdict.next_update != absl::InfinitePast()) {
    auto entry = std::make_shared<CachedOcspResponse>();
    entry->der = body;
    entry->sha256 = result->response_sha256;
    entry->url = result->url;
    entry->fetched_at = fetch.fetched_at;
    entry->expires_at =
        std::min(result->verdict.next_update, fetch.fetched_at + options_.max_cache_age);
    absl::MutexLock lock(&mutex_);
    ocsp_by_certificate_.erase(key);
    MakeRoom(ocsp_by_certificate_, options_.max_cache_entries);
    ocsp_by_certificate_[key] = std::move(entry);
  }
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
  absl::Notification checked;
  RevocationOutcome outcome;
  CheckAsync(
      certificate, issuer, [](std::function<void()> judge) { judge(); },
      [&checked, &outcome](RevocationOutcome result) {
        outcome = std::move(result);
        checked.Notify();
      });
  checked.WaitForNotification();
  return outcome;
}

void RevocationChecker::CheckAsync(X509* certificate, X509* issuer, Executor run, CheckDone done) {
  auto check = std::make_shared<PendingCheck>();
  X509_up_ref(certificate);
  check->certificate.reset(certificate);
  X509_up_ref(issuer);
  check->issuer.reset(issuer);
  check->now = clock_.Now();
  check->run = std::move(run);
  check->done = std::move(done);
  check->log_context = CurrentLogContext();
  const absl::Time now = check->now;

  std::vector<std::string> crl_urls = CrlDistributionPointUrls(certificate);
  std::vector<std::string> ocsp_urls = OcspResponderUrls(certificate);
  if (crl_urls.empty() && ocsp_urls.empty()) {
    RevocationOutcome outcome;
    outcome.checked_at = now;
    outcome.reason = v1::REVOCATION_UNKNOWN;
    outcome.explanation =
        "revocation status unknown: the certificate names no CRL distribution point or OCSP "
        "responder";
    return check->done(std::move(outcome));
  }
  for (std::vector<std::string>* urls : {&crl_urls, &ocsp_urls}) {
    while (urls->size() > options_.max_urls_per_kind) {
      check->not_consulted.push_back(urls->back());
      urls->pop_back();
    }
  }

  // The caches first; what they cannot answer is fetched.
  for (const std::string& url : crl_urls) {
    SourceResult& result = check->results.emplace_back();
    result.source = v1::CRL;
    result.url = url;
    if (CachedCrl(url, certificate, issuer, now, &result)) continue;
    SourceFetch& fetch = check->fetches.emplace_back();
    fetch.slot = check->results.size() - 1;
    fetch.source = v1::CRL;
    fetch.request.url = url;
    fetch.request.max_response_bytes = options_.max_crl_bytes;
  }
  RevocationVerdict cached_verdict;
  std::shared_ptr<const CachedOcspResponse> cached_ocsp =
      ocsp_urls.empty() ? nullptr
                        : CachedOcsp(OcspCacheKey(certificate, issuer), certificate, issuer, now,
                                     &cached_verdict);
  if (cached_ocsp != nullptr) {
    // One verified response per certificate is enough until it expires from the cache.
    SourceResult& result = check->results.emplace_back();
    result.source = v1::OCSP;
    result.url = cached_ocsp->url;
    result.verdict = cached_verdict;
    result.response_der = cached_ocsp->der;
    result.response_sha256 = cached_ocsp->sha256;
    result.obtained_at = cached_ocsp->fetched_at;
  } else {
    for (const std::string& url : ocsp_urls) {
      SourceResult& result = check->results.emplace_back();
      result.source = v1::OCSP;
      result.url = url;
      result.verdict.status = RevocationStatus::kUnusable;
      SourceFetch fetch;
      fetch.slot = check->results.size() - 1;
      fetch.source = v1::OCSP;
      fetch.request.url = url;
      if (PrepareOcspFetch(certificate, issuer, &fetch, &result)) {
        check->fetches.push_back(std::move(fetch));
      }
    }
  }
  if (check->fetches.empty()) return Judge(*check);

  // The fetches of one check run at once, so a check waits one fetch_timeout at most (a URL's
  // retry included), and no thread waits with it: the last answer hands the check to `run`.
  check->fetches_left = check->fetches.size();
  for (size_t i = 0; i < check->fetches.size(); ++i) {
    SourceFetch& fetch = check->fetches[i];
    auto fetched = [this, check, i](SharedBody body) {
      check->fetches[i].body = std::move(body);
      check->fetches[i].fetched_at = clock_.Now();
      if (check->fetches_left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      check->run([this, check] { Judge(*check); });
    };
    if (fetch.source == v1::CRL) {
      FetchCrlOnce(fetch.request, std::move(fetched));
    } else {
      FetchWithRetryAsync(fetch.request, "OCSP", std::move(fetched));
    }
  }
}

void RevocationChecker::Judge(PendingCheck& check) {
  ScopedLogContext log_context(check.log_context);
  X509* certificate = check.certificate.get();
  X509* issuer = check.issuer.get();
  const absl::Time now = check.now;
  RevocationOutcome outcome;
  outcome.checked_at = now;
  // A fetch this server did not make (its HTTP client full or shutting down) says nothing about
  // the certificate: no verdict is made of it.
  for (const SourceFetch& fetch : check.fetches) {
    if (fetch.body->status().code() != absl::StatusCode::kAborted) continue;
    outcome.fault = absl::UnavailableError(
        absl::StrCat("the revocation status was not checked: ", fetch.body->status().message(),
                     "; nothing was recorded, send the VR again later"));
    MECAI_LOG(Warning) << outcome.fault.message();
    return check.done(std::move(outcome));
  }
  for (SourceFetch& fetch : check.fetches) {
    SourceResult* result = &check.results[fetch.slot];
    if (fetch.source == v1::CRL) {
      JudgeFetchedCrl(fetch, certificate, issuer, now, result);
    } else {
      JudgeFetchedOcsp(fetch, certificate, issuer, now, result);
    }
  }
  const std::vector<SourceResult>& results = check.results;
  const std::vector<std::string>& not_consulted = check.not_consulted;
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
    evidence.set_response_sha256(result.response_sha256);
    if (!options_.response_held_by_log || !options_.response_held_by_log(result.response_sha256)) {
      evidence.set_response_der(result.response_der);
    }
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
  check.done(std::move(outcome));
}

}  // namespace mecai
