// The HTTP resources of a C2SP tiled transparency log (https://c2sp.org/tlog-tiles "APIs") over a
// StoreFollower (docs/PUBLIC_LOG.md):
//
//   GET /checkpoint                  the signed checkpoint note; text/plain; charset=utf-8;
//                                    Cache-Control: public, max-age=<checkpoint max age>
//   GET /tile/<L>/<N>                a full tile: application/octet-stream;
//   GET /tile/entries/<N>            Cache-Control: public, max-age=31536000, immutable
//   GET /tile/<L>/<N>.p/<W>          a partial tile or bundle: as the checkpoint, since a log may
//   GET /tile/entries/<N>.p/<W>      stop serving it once the full one exists
//   GET /evidence/<64 hex digits>    the bytes the store keeps under that SHA-256 (a revocation
//                                    response a record names by hash); lower-case hex only;
//                                    application/octet-stream, immutable as a full tile
//
// 404 for any other path, for evidence the store does not hold, and for a tile or bundle beyond the
// served checkpoint (or before the first); 405 for another method; 503 before the first checkpoint
// at /checkpoint; 500 when the store contradicts its leaf hashes or holds an entry longer than a
// bundle allows (65535 bytes).
#ifndef MECAI_LOG_SERVER_TLOG_HANDLER_H_
#define MECAI_LOG_SERVER_TLOG_HANDLER_H_

#include <cstdint>

#include "common/net/http_server.h"
#include "log_server/log_server_metrics.h"
#include "log_server/store_follower.h"

namespace mecai {

inline constexpr char kImmutableCacheControl[] = "public, max-age=31536000, immutable";

// Thread-safe.
class TlogHandler {
 public:
  // `metrics` may be null.
  TlogHandler(const StoreFollower& follower, uint32_t checkpoint_max_age_seconds,
              LogServerMetrics* metrics)
      : follower_(follower),
        checkpoint_max_age_seconds_(checkpoint_max_age_seconds),
        metrics_(metrics) {}

  HttpServerResponse Handle(const HttpServerRequest& request) const;

 private:
  HttpServerResponse Serve(const HttpServerRequest& request, const char** resource) const;

  const StoreFollower& follower_;
  const uint32_t checkpoint_max_age_seconds_;
  LogServerMetrics* const metrics_;
};

}  // namespace mecai

#endif  // MECAI_LOG_SERVER_TLOG_HANDLER_H_
