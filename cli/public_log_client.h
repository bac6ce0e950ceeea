// The resources of one public log (docs/PUBLIC_LOG.md §1), fetched over HTTP(S) from its URL
// prefix and nothing else: the checkpoint, tiles and entry bundles of a C2SP tiled transparency
// log (https://c2sp.org/tlog-tiles) and evidence by content hash. Every answer is bounded by what
// the resource can hold, so a hostile server cannot make the auditor read without end.
#ifndef MECAI_CLI_PUBLIC_LOG_CLIENT_H_
#define MECAI_CLI_PUBLIC_LOG_CLIENT_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/net/http_fetcher.h"
#include "common/transparency/tile_path.h"

namespace mecai {

// The largest evidence fetched: the coordinator's default bound on a CRL
// (RevocationConfig.max_crl_bytes).
inline constexpr size_t kMaxPublicLogEvidenceBytes = 64 << 20;

// Thread-safe when `fetcher` is.
class PublicLogClient {
 public:
  // `url_prefix`: the log's http:// or https:// URL prefix, with or without a final '/'.
  // `fetcher` must outlive this object.
  PublicLogClient(HttpFetcher& fetcher, std::string url_prefix,
                  absl::Duration timeout = absl::Seconds(60));

  const std::string& url_prefix() const { return url_prefix_; }

  // GET <prefix>/checkpoint: at most kMaxSignedNoteBytes.
  absl::StatusOr<std::string> Checkpoint() const;
  // GET <prefix>/tile/...: a hash tile of exactly width · 32 bytes (DATA_LOSS otherwise), or an
  // entry bundle of at most width · (2 + 65535) bytes.
  absl::StatusOr<std::string> Tile(const TileCoordinates& tile) const;
  // GET <prefix>/evidence/<lower-case hex of sha256>: at most kMaxPublicLogEvidenceBytes.
  absl::StatusOr<std::string> Evidence(const std::string& sha256) const;

  // The URL of `path` (no leading slash) under the prefix.
  std::string UrlOf(const std::string& path) const;

 private:
  // The body of a 2xx answer; errors name the URL (HttpFetcher::Fetch's codes).
  absl::StatusOr<std::string> Get(const std::string& path, size_t max_bytes) const;

  HttpFetcher& fetcher_;
  const std::string url_prefix_;
  const absl::Duration timeout_;
};

}  // namespace mecai

#endif  // MECAI_CLI_PUBLIC_LOG_CLIENT_H_
