// The coordinator's revocation check (ARCHITECTURE.md §3): "revocation status is known and good".
// Every CRL distribution point (RFC 5280 §4.2.1.13) and every OCSP responder (RFC 6960, AIA
// id-ad-ocsp) the certificate names is consulted — CRLs are a first-class source, since major CAs
// have turned OCSP off — and what each says is verified with //common/revocation:revocation. The
// responses become RevocationEvidence the signer re-checks on its own
// (//common/revocation:revocation JudgeRevocationEvidence), under the same rule.
#ifndef MECAI_COORDINATOR_REVOCATION_CHECKER_H_
#define MECAI_COORDINATOR_REVOCATION_CHECKER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/single_flight.h"
#include "common/crypto/openssl_types.h"
#include "common/net/http_fetcher.h"
#include "common/revocation/revocation.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

struct RevocationOptions {
  // Bound on each URL's fetch (connection included), its one retry included; the fetches of one
  // check run in parallel, so a check waits for the network this long at most.
  absl::Duration fetch_timeout = absl::Seconds(5);
  // The pause before the one retry of a fetch that failed in transport (IsRetryableFetchError).
  absl::Duration retry_backoff = absl::Milliseconds(100);
  size_t max_crl_bytes = 64 << 20;
  size_t max_ocsp_bytes = 64 << 10;
  // Each cache (CRLs by URL, OCSP responses by certificate) holds at most this many entries; when
  // full, the entry expiring soonest is evicted.
  size_t max_cache_entries = 10000;
  // A cached CRL or OCSP response is used for at most this long after it was fetched, however far
  // its nextUpdate: a revocation published since is seen within this time.
  absl::Duration max_cache_age = absl::Hours(1);
  // At most this many CRL distribution points and as many OCSP responders are consulted per
  // certificate (trust rule 8); the rest are named in the explanation as not consulted.
  size_t max_urls_per_kind = 4;
  // The bounds of the revocation rule (//common/revocation:revocation CombineRevocationVerdicts); a
  // cached response older than limits.max_evidence_age is fetched again.
  RevocationLimits limits;
  // When set and true for a response's SHA-256, the evidence names that response by its hash only:
  // the log that records the decision holds its bytes already (ARCHITECTURE.md §8 "Evidence by
  // content hash"), so a large CA's CRL is not copied into every decision. Unset: every evidence
  // carries its bytes (a front, whose sequencer asks for the bytes it lacks).
  std::function<bool(const std::string& sha256)> response_held_by_log;
};

// Whether a fetch that failed with `status` (HttpFetcher::Fetch's errors) may be tried again:
// transport errors and HTTP 5xx and 429, not answers or refusals (revocation_checker.cc says
// which).
bool IsRetryableFetchError(const absl::Status& status);

// A retry is made only when at least this much of fetch_timeout remains for it.
inline constexpr absl::Duration kMinRetryTimeout = absl::Milliseconds(100);

// The result of one check. Revocation status is data (trust rule 2), never an error.
struct RevocationOutcome {
  // Not OK (UNAVAILABLE) when the check could not be made for a reason of this server's own (its
  // HTTP client at its limit of transfers in flight, or shutting down): no verdict, and nothing
  // else here means anything; the VR is not refused but fails, to be sent again.
  absl::Status fault;
  // REFUSAL_REASON_UNSPECIFIED: good. CERTIFICATE_REVOKED or REVOCATION_UNKNOWN otherwise.
  v1::RefusalReason reason = v1::REFUSAL_REASON_UNSPECIFIED;
  // A sentence for people: which sources said what ("CRL http://…: the CRL expired at …").
  std::string explanation;
  // Every usable response (good or revoked), for the signer to re-check and the record to keep.
  std::vector<v1::RevocationEvidence> evidence;
  // The source the decision rests on: for good, CRL when a CRL was relied on, else OCSP; for
  // revoked, the first source that said revoked. UNSPECIFIED for REVOCATION_UNKNOWN.
  v1::RevocationSource source = v1::REVOCATION_SOURCE_UNSPECIFIED;
  // The clock's time when the check ran (the time every response was judged at).
  absl::Time checked_at;
  // For good: the time the CA signed into the evidence relied on (the oldest thisUpdate of the
  // freshest good response of each source); the signer states the same time in the VD.
  absl::Time ca_signed_at = absl::InfinitePast();
};

// Policy: the rule the signer applies to the same evidence, //common/revocation:revocation
// CombineRevocationVerdicts:
//   * any usable source saying revoked → CERTIFICATE_REVOKED (the explanation names the source and
//     the revocation date);
//   * else each source the certificate names (CRL distribution point, OCSP responder) must have a
//     response saying good whose thisUpdate is within options.limits.max_evidence_age → good;
//   * else REVOCATION_UNKNOWN naming each source and why it failed; a certificate naming no
//     http(s) CRL distribution point and no OCSP responder is REVOCATION_UNKNOWN too.
// OCSP requests are POSTs (RFC 6960 Appendix A.1) carrying a fresh 16-byte nonce (RFC 8954).
//
// No thread waits for the network: CheckAsync consults the caches on the calling thread, fetches
// what they cannot answer through HttpFetcher::FetchAsync (all of a check's URLs at once), and
// hands the fetched responses to the caller's executor to be judged (parsing and verifying a CRL
// is CPU work that belongs on the caller's workers, not on the fetcher's thread).
//
// Retry: a CRL download or OCSP request that failed in transport (IsRetryableFetchError) is made
// once more, options.retry_backoff later, with the same request (the same nonce): at most 2
// attempts per URL per check. Both attempts share options.fetch_timeout, measured in real time
// from the first: the retry gets what remains, and is not made when less than
// kMinRetryTimeout would remain after the backoff. Each retry is logged as a Warning naming the
// URL and the error; when the retry fails too, the explanation names the last error and
// "(2 attempts)". An answer that says something — a CRL or OCSP response (well-formed or not), an
// HTTP status other than 5xx and 429, a body over the size limit — and an address the policy
// refuses are final.
//
// Caches: a CRL by URL (parsed once; re-verified for every certificate with CheckParsedCrl, so one
// CA's CRL never vouches for another's certificate), an OCSP response by (issuer key hash,
// serial) (re-verified on every use), each until its nextUpdate or max_cache_age after it was
// fetched, whichever comes first. Only responses that verified are cached; one whose thisUpdate is
// older than options.limits.max_evidence_age is fetched again, since the signer would not rely on
// it. A CRL is downloaded once at a time: a check that needs a CRL whose download is under way
// waits for that download.
//
// Thread-safe.
class RevocationChecker {
 public:
  // `fetcher` and `clock` must outlive the checker.
  RevocationChecker(HttpFetcher& fetcher, Clock& clock, RevocationOptions options = {});

  RevocationChecker(const RevocationChecker&) = delete;
  RevocationChecker& operator=(const RevocationChecker&) = delete;

  // Runs a step on the caller's threads (a worker pool); must not block.
  using Executor = std::function<void(std::function<void()>)>;
  using CheckDone = std::function<void(RevocationOutcome)>;

  // The revocation status of `certificate`, issued by `issuer` (both kept, up-referenced, until
  // `done`). `done` is called once: on the calling thread when the caches (or the certificate
  // itself) answer, else within a step given to `run` once the last fetch ended. A step `run` drops
  // (its pool is full) ends the check without `done`.
  void CheckAsync(X509* certificate, X509* issuer, Executor run, CheckDone done);

  // CheckAsync, waiting for the outcome; the responses are judged on the fetcher's thread.
  RevocationOutcome Check(X509* certificate, X509* issuer);

  // Entries in the caches now, for tests and metrics.
  size_t CachedCrlCount() const;
  size_t CachedOcspResponseCount() const;

 private:
  struct CachedCrlEntry {
    X509CrlPtr crl;
    std::string der;
    // The issuer key its signature verified with when it was stored (IssuerKeyDer): a certificate
    // of that issuer is checked against it without verifying the signature again.
    std::string verified_with;
    // SHA-256 of `der`, computed once when stored.
    std::string sha256;
    absl::Time fetched_at;
    // min(nextUpdate, fetched_at + max_cache_age): used before, fetched again from then on.
    absl::Time expires_at;
  };
  struct CachedOcspResponse {
    std::string der;
    // SHA-256 of `der`, computed once when stored.
    std::string sha256;
    std::string url;
    absl::Time fetched_at;
    // min(nextUpdate, fetched_at + max_cache_age).
    absl::Time expires_at;
  };
  // What one source said.
  struct SourceResult;
  // One URL a check fetches, and what came back.
  struct SourceFetch;
  // One check between CheckAsync and its `done`.
  struct PendingCheck;

  // A fetch's answer, shared by the checks that wait for one CRL download.
  using SharedBody = std::shared_ptr<const absl::StatusOr<std::string>>;
  using SharedBodyDone = std::function<void(SharedBody)>;
  // fetcher_.FetchAsync(request), tried again once after a transport error within
  // options_.fetch_timeout (see the class comment); request.timeout is set here. `kind` ("CRL",
  // "OCSP") names the source in the log.
  void FetchWithRetryAsync(HttpRequest request, const char* kind, SharedBodyDone done);
  // FetchWithRetryAsync for a CRL, joining the download of the same URL under way, if any.
  void FetchCrlOnce(HttpRequest request, SharedBodyDone done);
  // The CRL cached for `url`, when it says something about `certificate` and is fresh enough:
  // true, with `result` filled.
  bool CachedCrl(const std::string& url, X509* certificate, X509* issuer, absl::Time now,
                 SourceResult* result);
  // The OCSP request for `certificate` (a fresh nonce); false, with `result` saying why, when it
  // cannot be built.
  bool PrepareOcspFetch(X509* certificate, X509* issuer, SourceFetch* fetch, SourceResult* result);
  // What a fetched CRL or OCSP response says about `certificate`, into `result`; a usable one is
  // cached.
  void JudgeFetchedCrl(SourceFetch& fetch, X509* certificate, X509* issuer, absl::Time now,
                       SourceResult* result);
  void JudgeFetchedOcsp(SourceFetch& fetch, X509* certificate, X509* issuer, absl::Time now,
                        SourceResult* result);
  // Judges every fetched response of `check`, combines all its sources, and calls its `done`.
  void Judge(PendingCheck& check);
  // Whether a cached response with `verdict` may be served at `now`: revoked, or good with a
  // thisUpdate within options_.limits.max_evidence_age.
  bool FreshEnough(const RevocationVerdict& verdict, absl::Time now) const;
  // A cached OCSP response for the certificate that still verifies at `now` and is fresh enough,
  // else nullptr.
  std::shared_ptr<const CachedOcspResponse> CachedOcsp(const std::string& key, X509* certificate,
                                                       X509* issuer, absl::Time now,
                                                       RevocationVerdict* verdict);

  HttpFetcher& fetcher_;
  Clock& clock_;
  const RevocationOptions options_;

  mutable absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<const CachedCrlEntry>> crls_by_url_ ABSL_GUARDED_BY(mutex_);
  // The CRL downloads under way, by URL, with the checks waiting for each.
  SingleFlight<SharedBody> crl_downloads_;
  // Key: hex SHA-1 of the issuer's public key (the CertID's issuerKeyHash, RFC 6960 §4.1.1), ":",
  // hex serial.
  std::map<std::string, std::shared_ptr<const CachedOcspResponse>> ocsp_by_certificate_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_REVOCATION_CHECKER_H_
